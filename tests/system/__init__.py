"""System tier: the whole bridge (bridge.app.Bridge in the test's loop, or the
`textback` command as another process) end to end against the doubles - texting
a missed call back, restarts and kill -9, follow-through, degraded running,
doctor, dry runs, the CLI, and the files `make install` and the images install."""
