"""The read-only web explorer: pages with .json twins, fund flows, the in-browser verifier."""
