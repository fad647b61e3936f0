"""Looking at the data before training on it: ``stats`` (numbers and an offline report) and ``review``
(rating a seeded sample in the browser). Reads releases through the core; imports no other wing
except the options table of :mod:`..loading.options` (to check load options as a load does)."""
