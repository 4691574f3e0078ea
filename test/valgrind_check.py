#!/usr/bin/env python3
"""Reports valgrind memcheck errors whose stack reaches awslambda's code.

usage: valgrind_check.py LOG...   (exit 1 if any such error was found)

PostgreSQL built without USE_VALGRIND has known reports of its own (padding
bytes written to files and sockets); only error blocks with a frame in
awslambda.so or one of its source files count here.
"""
import re
import sys

OURS = re.compile(r'awslambda\.so|\((?:awslambda|credentials|http|invoke|jsonutil|sigv4)\.c:\d+\)')
KIND = re.compile(r'^==\d+== (Invalid |Conditional jump|Use of uninitialised|Syscall param|'
                  r'Mismatched free|Source and destination overlap|Argument .* of function|'
                  r'[\d,]+ (?:\([\d,]+ direct, [\d,]+ indirect\) )?bytes in [\d,]+ blocks are definitely lost)')


def blocks(path):
    """Yields the lines of each report block of a valgrind log."""
    block = []
    with open(path, errors='replace') as f:
        for line in f:
            if re.match(r'^==\d+== ?$', line.rstrip('\n')):
                if block:
                    yield block
                block = []
            else:
                block.append(line.rstrip('\n'))
    if block:
        yield block


def main(paths):
    found = 0
    for path in paths:
        for block in blocks(path):
            if KIND.match(block[0]) and any(OURS.search(l) for l in block):
                found += 1
                print(f'--- {path}')
                print('\n'.join(block[:40]))
    print(f'valgrind: {len(paths)} logs, {found} errors in awslambda code')
    return 1 if found else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
