"""``migrate``: move an app's adapter to a new backbone without labels. The old backbone with the adapter
is the teacher (``teacher.py``: what the runtime gives on unlabelled texts); a LoRA and head on the new
backbone learn to match it (``student.py``: per-word label distributions, class distributions, pair
scores); ``migrate.py`` runs it (resumable), packs the result for the new bundle with its lineage and
refuses it when it agrees too little with the teacher on held-back texts."""
