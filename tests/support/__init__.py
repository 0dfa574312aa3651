"""What the tests share that is not a fixture: values, doubles' settings, helpers.

Test modules import from here (``tests.support.*``) and from nowhere else in
tests/; fixtures live in conftest.py files (tests/conftest.py for those every
tier uses, a tier's own conftest.py for the rest)."""
