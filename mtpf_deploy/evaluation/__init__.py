"""``mtpf-deploy evaluate`` (downstream protocol over a suite of datasets) and ``analyze`` (paper Sec. 5)."""
