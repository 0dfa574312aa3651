"""What comes back: incoming texts filed on their thread, STOP/START/HELP, and
owners' commands by text."""
