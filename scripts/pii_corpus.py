#!/usr/bin/env python3
"""The labelled synthetic corpus pii-mask's accuracy is measured on, and the bodies its
throughput is measured on. Fixed seed: the same files on every machine.

Values come from Faker (37.12.0, pinned in scripts/lib.sh) in four locales: emails,
phone numbers as each locale writes them, payment cards of every network, IBANs of
six countries, US SSNs, IPv4 and IPv6 addresses. Between them go lookalikes that must
not be masked: order numbers that fail Luhn, dates, times, versions, ISBNs, UUIDs,
hashes, MAC addresses, amounts, coordinates, ZIP+4 codes, Unix timestamps.

Writes into OUT (default .tollgate/pii-corpus, git-ignored):
  labelled.jsonl   {"text": ..., "spans": [[start, end, type], ...]} per line; offsets
                   in bytes of the UTF-8 text; types: email phone card iban ssn ip
  mixed-1k.json, mixed-64k.json, mixed-1m.json   JSON arrays of customer records
  mixed-1k.txt, mixed-64k.txt, mixed-1m.txt      the same records as log lines
"""

import json
import os
import random
import sys
from datetime import datetime

from faker import Faker

SEED = 2026
# Faker's dates run up to "now" unless told an end: a fixed one keeps the files fixed.
END = datetime(2026, 1, 1)
RECORDS = 5000
LOCALES = ["en_US", "en_GB", "de_DE", "fr_FR"]
IBAN_LOCALES = ["de_DE", "en_GB", "fr_FR", "es_ES", "it_IT", "nl_NL"]
CARD_TYPES = ["visa16", "visa13", "visa19", "mastercard", "amex", "discover", "jcb15", "jcb16", "diners", "maestro"]

rng = random.Random(SEED)
Faker.seed(SEED)
# Sorted: a set's order changes with PYTHONHASHSEED, and each locale's seed is its index.
fakes = {loc: Faker(loc) for loc in sorted(set(LOCALES + IBAN_LOCALES))}
for i, f in enumerate(fakes.values()):
    f.seed_instance(SEED + i)
en = fakes["en_US"]


def group(digits, sizes, sep):
    out, i = [], 0
    for s in sizes:
        out.append(digits[i:i + s])
        i += s
    if i < len(digits):
        out.append(digits[i:])
    return sep.join(p for p in out if p)


def email():
    f = fakes[rng.choice(LOCALES)]
    e = rng.choice([f.email, f.company_email, f.free_email, f.ascii_safe_email])()
    r = rng.random()
    if r < 0.1:
        local, domain = e.split("@")
        e = f"{local}+{rng.choice(['news', 'x', 'billing'])}@{domain}"
    elif r < 0.15:
        e = e.upper()
    return e


def phone():
    return fakes[rng.choice(LOCALES)].phone_number()


def card():
    t = rng.choice(CARD_TYPES)
    n = en.credit_card_number(card_type=t)
    sep = rng.choice(["", " ", "-"])
    if not sep:
        return n
    sizes = [4, 6, 5] if len(n) == 15 else [4, 6, 4] if len(n) == 14 else [4, 4, 4, 4]
    return group(n, sizes, sep)


def iban():
    n = fakes[rng.choice(IBAN_LOCALES)].iban()
    return group(n, [4] * 9, " ") if rng.random() < 0.5 else n


def ssn():
    return en.ssn()


def ip():
    r = rng.random()
    if r < 0.45:
        return en.ipv4()
    if r < 0.6:
        return en.ipv4_private()
    return en.ipv6()


GENERATORS = {"email": email, "phone": phone, "card": card, "iban": iban, "ssn": ssn, "ip": ip}


def luhn_ok(d):
    s = 0
    for i, c in enumerate(reversed(d)):
        x = int(c)
        if i % 2:
            x = x * 2 - 9 if x > 4 else x * 2
        s += x
    return s % 10 == 0


def order_number():
    while True:
        d = "".join(rng.choice("0123456789") for _ in range(16))
        if not luhn_ok(d):
            return d


LOOKALIKES = [
    lambda: f"order {order_number()}",
    lambda: f"ref {group(order_number(), [4, 4, 4, 4], ' ')}",
    lambda: en.date(end_datetime=END),
    lambda: en.date(pattern="%m/%d/%Y", end_datetime=END),
    lambda: en.time(end_datetime=END),
    lambda: f"v{rng.randint(0, 20)}.{rng.randint(0, 40)}.{rng.randint(0, 99)}",
    lambda: f"build 10.0.{rng.randint(10000, 22000)}.{rng.randint(1, 999)}",
    lambda: f"ISBN {en.isbn13()}",
    lambda: en.uuid4(),
    lambda: en.sha1(),
    lambda: en.mac_address(),
    lambda: f"{rng.randint(1, 999)},{rng.randint(100, 999)},{rng.randint(100, 999)}.{rng.randint(10, 99)}",
    lambda: f"{en.latitude()}, {en.longitude()}",
    lambda: en.zipcode_plus4(),
    lambda: str(rng.randint(1_500_000_000, 1_800_000_000)),
    lambda: f"id={rng.randint(10**8, 10**9 - 1)}",
    lambda: f"{rng.randint(1, 99)}.{rng.randint(0, 99)}%",
    lambda: f"@{en.user_name()}",
    lambda: f"{en.user_name()} at example dot com",
    lambda: f"qty {rng.randint(1, 500)} x {rng.randint(1, 99)}.{rng.randint(10, 99)} EUR",
]

# Sentences: each {type} becomes a labelled value, each {look} a lookalike. Phone
# templates name the number (as text about phones does) except the CSV-like ones.
TEMPLATES = [
    "Please contact {name} at {email} about invoice {look}.",
    "Customer {name} ({email}) paid with card {card} on {look}.",
    "Call {name} on {phone} before {look}.",
    "phone: {phone}; email: {email}",
    "Tel. {phone} / Fax {look}",
    "mobile {phone}, ssn {ssn}, updated {look}",
    "Wire the refund to IBAN {iban} (ref {look}).",
    "Login from {ip} at {look} by {email}",
    "{name}, {email}, {phone}",
    "SSN on file: {ssn}. Card ending {look}.",
    "request {look} from {ip} took 12ms",
    "Account {iban} belongs to {name}; reach them at {phone}.",
    "Payment {card} declined; retry {look}.",
    "{look} {look} {look}",
    "The build {look} shipped on {look} with checksum {look}.",
    "Ship to {name}, {look}; questions: {email}",
    "peer {ip} and {ip} exchanged {look} packets",
]


def sentence():
    t = rng.choice(TEMPLATES)
    text, spans = "", []
    i = 0
    while i < len(t):
        if t[i] == "{":
            j = t.index("}", i)
            key = t[i + 1:j]
            if key == "name":
                val = fakes[rng.choice(LOCALES)].name()
            elif key == "look":
                val = rng.choice(LOOKALIKES)()
            else:
                val = GENERATORS[key]()
                start = len(text.encode())
                spans.append([start, start + len(val.encode()), key])
            text += val
            i = j + 1
        else:
            text += t[i]
            i += 1
    return text, spans


def labelled(path):
    with open(path, "w") as out:
        for _ in range(RECORDS):
            text, spans = "", []
            for k in range(rng.randint(1, 3)):
                s, sp = sentence()
                if k:
                    text += " "
                base = len(text.encode())
                spans += [[a + base, b + base, t] for a, b, t in sp]
                text += s
            out.write(json.dumps({"text": text, "spans": spans}) + "\n")


def record(i):
    f = fakes[rng.choice(LOCALES)]
    return {
        "id": i,
        "order": order_number(),
        "name": f.name(),
        "email": email(),
        "phone": phone(),
        "address": f.address().replace("\n", ", "),
        "card": card() if rng.random() < 0.3 else None,
        "iban": iban() if rng.random() < 0.2 else None,
        "last_login": {"ip": ip(), "at": en.iso8601(end_datetime=END), "agent": en.user_agent()},
        "balance": round(rng.uniform(-1000, 100000), 2),
        "tags": [en.word() for _ in range(rng.randint(0, 4))],
        "note": en.sentence(nb_words=rng.randint(4, 16)),
        "version": f"{rng.randint(0, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 99)}",
        "active": rng.random() < 0.8,
    }


def line(r):
    return (
        f"{r['last_login']['at']} user={r['name']!r} email={r['email']} phone: {r['phone']} "
        f"ip={r['last_login']['ip']} order={r['order']} card={r['card'] or '-'} note={r['note']!r}\n"
    )


def bodies(out_dir):
    for name, size in [("1k", 1 << 10), ("64k", 64 << 10), ("1m", 1 << 20)]:
        recs, total, i = [], 2, 0
        while True:
            r = record(i)
            i += 1
            n = len(json.dumps(r)) + 2
            if total + n > size and recs:
                break
            recs.append(r)
            total += n
        with open(os.path.join(out_dir, f"mixed-{name}.json"), "w") as f:
            json.dump(recs, f)
        lines, total = [], 0
        while True:
            nxt = line(record(i))
            i += 1
            if total + len(nxt.encode()) > size and lines:
                break
            lines.append(nxt)
            total += len(nxt.encode())
        text = "".join(lines)
        with open(os.path.join(out_dir, f"mixed-{name}.txt"), "w") as f:
            f.write(text)


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else ".tollgate/pii-corpus"
    os.makedirs(out_dir, exist_ok=True)
    labelled(os.path.join(out_dir, "labelled.jsonl"))
    bodies(out_dir)
    print(out_dir)


if __name__ == "__main__":
    main()
