"""One module per group of task kinds the runtime serves; each is a function of the ``SystemModel`` core
(bundle, adapters, batching) and the call's inputs. ``formats/tasks.py`` says which ``SystemModel``
method serves which task kind (``TaskSpec.runtime``)."""
