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
pub fn task_by_name(name: &str) -> Result<Box<dyn Task>, LangError> {
    let wanted = normalise(name);
    all_tasks()
        .into_iter()
        .find(|info| {
            normalise(info.task.name()) == wanted
                || info.aliases.iter().any(|a| normalise(a) == wanted)
        })
        .map(|info| info.task)
        .ok_or_else(|| LangError::UnknownTask(name.to_string()))
}
