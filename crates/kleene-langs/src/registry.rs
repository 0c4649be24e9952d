//! Name -> task lookup over every family, with the published folder names as aliases, and
//! the tasks a program registers itself ([`register_task`]): after that, everything that
//! looks tasks up by name (`kleene_train::run`, sweeps, `task_by_name`) finds them too.

use std::sync::{Arc, RwLock};

use crate::{LangError, Task};

/// Builds a registered task (called at every lookup: tasks are cheap to build).
type TaskFactory = Arc<dyn Fn() -> Box<dyn Task> + Send + Sync>;

/// Tasks registered by [`register_task`], with their aliases, in registration order.
static REGISTERED: RwLock<Vec<(TaskFactory, Vec<String>)>> = RwLock::new(Vec::new());

/// A registered task with the other names it answers to.
pub struct TaskInfo {
    pub task: Box<dyn Task>,
    /// Published folder / CLI names accepted in addition to `task.name()`.
    pub aliases: Vec<String>,
}

/// Every task of every family with its default configuration, in listing order, then the
/// tasks registered with [`register_task`].
pub fn all_tasks() -> Vec<TaskInfo> {
    let registered = REGISTERED.read().unwrap_or_else(|e| e.into_inner());
    with_registered(builtin_tasks(), &registered)
}

/// The families' own tasks, in listing order: one line per family.
fn builtin_tasks() -> Vec<TaskInfo> {
    let mut all = Vec::new();
    all.extend(crate::bhattamishra::tasks());
    all.extend(crate::flipflop::tasks());
    all.extend(crate::bounded_dyck::tasks());
    all.extend(crate::regular::tasks());
    all.extend(crate::chomsky::tasks());
    all.extend(crate::regbench::tasks());
    all.extend(crate::synthetics::tasks());
    all
}

/// `all` followed by the `registered` tasks.
fn with_registered(
    mut all: Vec<TaskInfo>,
    registered: &[(TaskFactory, Vec<String>)],
) -> Vec<TaskInfo> {
    all.extend(registered.iter().map(|(make, aliases)| TaskInfo {
        task: make(),
        aliases: aliases.clone(),
    }));
    all
}

/// Registers a task of your own under `make().name()` and `aliases`, for this process:
/// [`task_by_name`], [`all_tasks`] and everything built on them (training and evaluation by
/// name, sweeps) then accept it. A name or alias that an existing task already answers to is
/// refused ([`LangError::InvalidConfig`] naming it), so a registration never shadows a task.
///
/// ```
/// use kleene_langs::{register_task, task_by_name, Example, LangError, SplitSpec, Target, TargetKind, Task};
/// use rand::Rng;
/// use rand_chacha::ChaCha8Rng;
///
/// /// Strings over {a, b}; the label at the end: are there more `a`s than `b`s?
/// struct MoreAs;
///
/// impl Task for MoreAs {
///     fn name(&self) -> &str { "more-as" }
///     fn description(&self) -> &str { "more a than b, at the end" }
///     fn vocab(&self) -> Vec<String> { vec!["a".into(), "b".into()] }
///     fn classes(&self) -> Vec<String> { vec!["no".into(), "yes".into()] }
///     fn target_kind(&self) -> TargetKind { TargetKind::Final }
///     fn sample(&self, min_len: usize, max_len: usize, rng: &mut ChaCha8Rng) -> Result<Example, LangError> {
///         let len = rng.random_range(min_len.max(1)..=max_len.max(1));
///         let tokens: Vec<u32> = (0..len).map(|_| rng.random_range(0..2)).collect();
///         let a = tokens.iter().filter(|&&t| t == 0).count();
///         Ok(Example { target: Target::Final(u32::from(2 * a > len)), tokens })
///     }
///     fn splits(&self) -> Vec<SplitSpec> {
///         vec![SplitSpec { name: "train".into(), min_len: 1, max_len: 20, size: 100 }]
///     }
/// }
///
/// register_task(|| Box::new(MoreAs), &["majority-of-a"]).unwrap();
/// // Found by name and alias (and so by `kleene_train::run`, sweeps, `kleene data`).
/// assert_eq!(task_by_name("majority-of-a").unwrap().name(), "more-as");
/// // A name that is taken is refused.
/// assert!(register_task(|| Box::new(MoreAs), &["parity"]).is_err());
/// ```
pub fn register_task(
    make: impl Fn() -> Box<dyn Task> + Send + Sync + 'static,
    aliases: &[&str],
) -> Result<(), LangError> {
    let task = make();
    let wanted: Vec<String> = std::iter::once(task.name().to_string())
        .chain(aliases.iter().map(|a| a.to_string()))
        .collect();
    let mut registered = REGISTERED.write().unwrap_or_else(|e| e.into_inner());
    // Checked under the write lock, so two threads cannot register one name twice.
    let taken: Vec<String> = with_registered(builtin_tasks(), &registered)
        .into_iter()
        .flat_map(|info| std::iter::once(info.task.name().to_string()).chain(info.aliases))
        .map(|n| normalise(&n))
        .collect();
    if let Some(clash) = wanted.iter().find(|n| taken.contains(&normalise(n))) {
        return Err(LangError::InvalidConfig {
            task: task.name().to_string(),
            field: "name".into(),
            reason: format!("`{clash}` is already the name or alias of a task"),
        });
    }
    registered.push((Arc::new(make), wanted[1..].to_vec()));
    Ok(())
}

/// Normalises a name for lookup: case-insensitive, `_` and `-` and spaces equivalent.
fn normalise(name: &str) -> String {
    name.trim()
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c == '_' || c == ' ' { '-' } else { c })
        .collect()
}

/// Looks a task up by its name or any alias (and PD-SSM's `a5-k<k>` / `s5-k<k>` for any
/// `k`, see [`crate::regular::extra_transitions_task`]).
///
/// Exact task names win over aliases, so a family's alias can never shadow another
/// family's task of that name (e.g. the Bhattamishra alias `d4` vs the SD-SSM task `d4`).
pub fn task_by_name(name: &str) -> Result<Box<dyn Task>, LangError> {
    let wanted = normalise(name);
    let all = all_tasks();
    let by_name = all
        .iter()
        .position(|info| normalise(info.task.name()) == wanted);
    let index = by_name.or_else(|| {
        all.iter()
            .position(|info| info.aliases.iter().any(|a| normalise(a) == wanted))
    });
    match index {
        Some(i) => Ok(all.into_iter().nth(i).expect("index from position").task),
        // PD-SSM's `(G, k)` family takes any `k` (only its published grid is listed): built
        // here, or an error naming `k`.
        None => {
            match crate::regular::extra_transitions_task(name, crate::regular::group_task_config())
            {
                Some(task) => Ok(Box::new(task?)),
                None => Err(LangError::UnknownTask(name.to_string())),
            }
        }
    }
}
