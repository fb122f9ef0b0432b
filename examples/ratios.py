# A remote exception: the CLI prints the remote traceback (naming this file and its lines) on
# stderr and exits with status 1.
#
#   node dist/cli.js run examples/ratios.py; echo "exit status $?"


def parse_ratio(text):
    numerator, denominator = text.split("/")
    return int(numerator) / int(denominator)


def average_ratio(texts):
    return sum(parse_ratio(t) for t in texts) / len(texts)


print("averaging ratios...")
channel.send(average_ratio(["1/2", "3/4", "5/0"]))
