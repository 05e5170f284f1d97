"""The cache layer on Redis: versioned namespaces, the page microcache, the circuit-breaking client."""
