"""Pure values and rules every stage shares: numbers, safe text, templates and
opening hours. No I/O, no asyncio, no SQL."""
