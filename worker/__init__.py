"""livegrid workers: sources, workflows and plotters (compute), jobs and publishing."""
