"""The owner inbox (issue 12, docs/inbox.md): a web page served by the bridge
itself - aiohttp, Jinja2 templates rendered on the server, htmx - where the
office sees every lead and works it: the inbox, a thread with its reply box,
live updates from the event bus, the health strip. Off unless `web:` is
configured; listens on 127.0.0.1 by default.

server (the app, its middlewares, login, the live stream, the supervised
job), pages (what an owner reads), actions (what they do), live (bus ->
browsers, presence), security (sessions, CSRF, throttle), passwords
(argon2), access (who sees which lines), words (what the pages say).
"""
