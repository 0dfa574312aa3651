"""Running it: the heartbeat `textback health` reads, and `textback doctor`'s
checks of everything the bridge depends on."""
