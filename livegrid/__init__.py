"""livegrid: the contract shared by workers and replicas."""

__version__ = "0.1.0"
