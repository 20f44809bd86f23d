"""One cog per phase of the procedure: triage, communicate, mitigate, postmortem, follow_up."""
