"""One example per command, shown at the end of its ``--help`` (each one also appears in README.md or
scripts/demo.sh; ``tests/test_cli.py`` checks every command has one)."""
from __future__ import annotations

import click

EXAMPLES = {
    "datasets": "mtpf-deploy datasets --json",
    "adapt ner": "mtpf-deploy adapt ner --backbone run/backbone --init-adapter run/adapters/ner "
                 "--train demo_data/wnut17_train.conll --dev demo_data/wnut17_dev.conll --out ner --license mit",
    "adapt tc": "mtpf-deploy adapt tc --train demo_data/banking77_train.csv --test demo_data/banking77_test.csv "
                "--format csv --out tc",
    "adapt multitask": "mtpf-deploy adapt multitask --data-root ../shared/data --out multitask",
    "pretrain": "mtpf-deploy pretrain --strategy mtpf-tpl --pairs '' --simcse-corpus demo_data/wnut17_raw_sample.txt "
                "--ner-corpus ner_corpus --steps 30 --out run",
    "pseudo-label": "mtpf-deploy pseudo-label --corpus demo_data/wnut17_raw_sample.txt --k 32 --out ner_corpus",
    "evaluate": "mtpf-deploy evaluate --run run --suite standard --data-root ../shared/data --out eval/run",
    "analyze": "mtpf-deploy analyze --model base=default --model tpl=run --data-root ../shared/data --out analysis",
    "export": "mtpf-deploy export --run run --adapters ner=ner,tc=tc --out bundle",
    "pack": "mtpf-deploy pack --bundle bundle --adapter my_peft_folder --name example-tagger "
            "--out tagger.mtpfa --ort-adapter --card-version 1.0.0 --license apache-2.0",
    "predict": "mtpf-deploy predict --bundle bundle --adapter ner \"Taylor Swift played Madison Square Garden\"",
    "inspect": "mtpf-deploy inspect --bundle bundle --json bundle/adapters/ner.mtpfa",
    "bench": "mtpf-deploy bench --bundle bundle --quick --no-baselines --out bench_out",
    "keygen": "mtpf-deploy keygen --out keys/vendor --policy bundle/trust.json --adapters 'example-*'",
    "sign": "mtpf-deploy sign --key keys/vendor.pem --signer 'Example Ltd' bundle/adapters/ner.mtpfa",
    "verify": "mtpf-deploy verify --trust bundle/trust.json --bundle bundle bundle/adapters/ner.mtpfa",
    "migrate": "mtpf-deploy migrate --from bundle --adapter ner --to bundle_new --new-backbone run_new "
               "--texts demo_data/wnut17_raw_sample.txt --out ner_new.mtpfa",
    "serve": "mtpf-deploy serve --bundle bundle_serve --state serve_state --port 8321",
    "apps add": "mtpf-deploy apps add notes_app --state serve_state",
    "apps grant": "mtpf-deploy apps grant notes_app ner tc --state serve_state",
    "apps revoke": "mtpf-deploy apps revoke notes_app tc --state serve_state",
    "apps token": "mtpf-deploy apps token notes_app --state serve_state",
    "apps remove": "mtpf-deploy apps remove notes_app --state serve_state",
    "apps list": "mtpf-deploy apps list --state serve_state",
}


def add_examples(group: click.Group, prefix: str = "") -> None:
    """Set each command's epilog to its example (``\\b``: click keeps the line unwrapped)."""
    for name, command in group.commands.items():
        path = f"{prefix}{name}"
        if isinstance(command, click.Group):
            add_examples(command, f"{path} ")
        elif path in EXAMPLES:
            command.epilog = f"\b\nExample:\n  {EXAMPLES[path]}"
