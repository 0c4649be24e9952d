//! Name -> task lookup over every family, with the published folder names as aliases.

use crate::{LangError, Task};

/// A registered task with the other names it answers to.
pub struct TaskInfo {
    pub task: Box<dyn Task>,
    /// Published folder / CLI names accepted in addition to `task.name()`.
    pub aliases: Vec<String>,
}

/// Every task of every family with its default configuration, in listing order.
pub fn all_tasks() -> Vec<TaskInfo> {
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

/// Normalises a name for lookup: case-insensitive, `_` and `-` and spaces equivalent.
fn normalise(name: &str) -> String {
    name.trim()
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c == '_' || c == ' ' { '-' } else { c })
        .collect()
}

/// Looks a task up by its name or any alias.
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
        None => Err(LangError::UnknownTask(name.to_string())),
    }
}
