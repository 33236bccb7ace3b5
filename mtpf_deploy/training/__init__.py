"""Training side (torch). ``pretrain/``: the system side (shared backbone, task-primary LoRAs);
``adapt/``: the app side (one adapter per task); the modules here are shared by both."""
