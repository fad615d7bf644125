//! What a saved model is to the run that made it.

use serde::{Deserialize, Serialize};

/// A model trained from labels (`teacher`) or distilled from one (`student`), as run
/// directories, catalog model folders and exports record it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Teacher,
    Student,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Teacher => "teacher",
            Role::Student => "student",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_is_written_as_the_word_it_prints() {
        for role in [Role::Teacher, Role::Student] {
            let json = serde_json::to_string(&role).unwrap();
            assert_eq!(json, format!("\"{role}\""));
            assert_eq!(serde_json::from_str::<Role>(&json).unwrap(), role);
        }
        assert!(serde_json::from_str::<Role>("\"critic\"").is_err());
    }
}
