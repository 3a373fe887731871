"""Presidio's pattern recognizers on pii-mask's benchmark corpus: the reference the
pii-mask issue asks for a ratio against. Only the recognizers that need no NLP model
(Presidio's spaCy models are not on PyPI): email, credit card, IBAN, US SSN, IP and
phone (the `phonenumbers` matcher), each run over the whole text as Presidio runs them,
best of RUNS after one warm-up (which also loads tldextract's bundled suffix list).

Usage: presidio_bench.py RUNS FILE=NATIVE_MB_S ...
Prints a Markdown table: Presidio's MB/s per recognizer, all six in sequence, and
pii-mask's figure (measured by the caller in the same session) as a ratio.
"""

import sys
import time

import tldextract
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    EmailRecognizer,
    IbanRecognizer,
    IpRecognizer,
    PhoneRecognizer,
    UsSsnRecognizer,
)

# Offline: the suffix list shipped with tldextract, never a download.
tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=())
tldextract.extract = tldextract.tldextract.TLD_EXTRACTOR


def best_seconds(recognizer, text, runs):
    recognizer.analyze(text, recognizer.supported_entities, None)
    best = float("inf")
    found = 0
    for _ in range(runs):
        started = time.perf_counter()
        found = len(recognizer.analyze(text, recognizer.supported_entities, None))
        best = min(best, time.perf_counter() - started)
    return best, found


def main():
    runs = int(sys.argv[1])
    recognizers = [
        EmailRecognizer(),
        CreditCardRecognizer(),
        IbanRecognizer(),
        UsSsnRecognizer(),
        IpRecognizer(),
        PhoneRecognizer(),
    ]
    print("| body | recognizer | found | Presidio MB/s |")
    print("|---|---|---|---|")
    summary = []
    for arg in sys.argv[2:]:
        path, native = arg.rsplit("=", 1)
        text = open(path, encoding="utf-8").read()
        size = len(text.encode("utf-8"))
        total = 0.0
        name = path.rsplit("/", 1)[-1]
        for r in recognizers:
            seconds, found = best_seconds(r, text, runs)
            total += seconds
            print(f"| {name} | {type(r).__name__} | {found} | {size / seconds / 1e6:.2f} |")
        presidio = size / total / 1e6
        print(f"| {name} | **all six** | | **{presidio:.3f}** |")
        summary.append((name, presidio, float(native)))
    print()
    print("| body | Presidio (six recognizers) MB/s | pii-mask native MB/s | pii-mask / Presidio |")
    print("|---|---|---|---|")
    for name, presidio, native in summary:
        print(f"| {name} | {presidio:.3f} | {native:.1f} | {native / presidio:.0f}× |")


if __name__ == "__main__":
    main()
