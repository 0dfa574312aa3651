"""Making sure a person follows up: reminders, cold threads, the digest, the
nudge, and the report of recovered leads."""
