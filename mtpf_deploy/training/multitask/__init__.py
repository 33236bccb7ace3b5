"""``adapt multitask`` (app side): the second source's multi-task fine-tuning — SST-5 sentiment,
paraphrase and STS heads on the shared backbone, with loss balancing, task sampling, PCGrad and SMART —
shipped as one adapter per task."""
