"""The SimPy engine: the world of one branch run, firm processes and the licence office."""
