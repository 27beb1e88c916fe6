# Backups (vzdump, restore, schedules) arrive with their own issue.
