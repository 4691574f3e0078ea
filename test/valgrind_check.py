#!/usr/bin/env python3
"""Reports valgrind memcheck errors and definite leaks in awslambda's code.

usage: valgrind_check.py [--src DIR]... LOG...   (exit 1 if any was found)

Our code is awslambda.so, in a frame "(in .../awslambda.so)" when valgrind has
no debug info for it, and every source file in the --src directories (default:
src/ next to this script), listed when the check runs, so that files added
later count without editing this script: with debug info valgrind names the
file, "(deliver.c:541)", not the object.

What counts, in a log's error blocks (the "==PID== " lines between two empty
ones; valgrind's own "--PID--" warnings are skipped):
  * Invalid read/write/free, Mismatched free, Conditional jump or Use of
    uninitialised value, Syscall param pointing to unaddressable bytes,
    overlapping copies, fishy allocation sizes, jumps to invalid addresses
    and deaths by a fatal signal: when a frame of any of the block's stacks
    (the error, the block's allocation or free, the origin of uninitialised
    bytes) is ours;
  * definite leaks ("definitely lost", not "possibly lost"), and Syscall
    param pointing to uninitialised bytes: only when a stack reaches our code
    before it reaches the server.  PostgreSQL built without USE_VALGRIND
    writes padding bytes to files and sockets (WAL, the relcache init file,
    statistics) and leaves a few strdup'd GUC values behind; with our code
    lower down (a dispatcher's CommitTransactionCommand, InitPostgres under
    BackgroundWorkerInitializeConnection) those are still the server's.
A log that says valgrind stopped reporting (too many errors) fails too.
"""
import glob
import os
import re
import sys

KIND = re.compile(r'(?:Invalid |Mismatched free|Conditional jump|Use of uninitialised|Syscall param|'
                  r'Source and destination overlap|Argument .* of function|Jump to the invalid address|'
                  r'Process terminating with default action of signal (?:4|6|7|8|11) |'
                  r'[\d,]+ (?:\([\d,]+ direct, [\d,]+ indirect\) )?bytes in [\d,]+ blocks are definitely lost)')
# Judged by where the stack first leaves the server: see the docstring.
SERVER_NOISE = re.compile(r'Syscall param .* uninitialised byte|bytes in [\d,]+ blocks are definitely lost')
FRAME = re.compile(r'^\s+(?:at|by) 0x[0-9A-Fa-f]+: ')
SERVER_FRAME = re.compile(r'\(in \S*/bin/postgres\)$')
GAVE_UP = re.compile(r"I'm not reporting any more|Final error counts will be inaccurate")


def our_files(dirs):
    """The base names of the source files in dirs, sorted."""
    names = set()
    for d in dirs:
        for path in glob.glob(os.path.join(d, '*.[ch]')):
            names.add(os.path.basename(path))
    return sorted(names)


def ours_pattern(files):
    alternatives = [r'\(in \S*/awslambda\.so\)']
    if files:
        alternatives.append(r'\((?:\S*/)?(?:' + '|'.join(re.escape(f) for f in files) + r'):\d+\)')
    return re.compile('|'.join(alternatives))


def blocks(path):
    """Yields each report block of a valgrind log as a list of lines, "==PID==" stripped."""
    block = []
    with open(path, errors='replace') as f:
        for line in f:
            m = re.match(r'^==\d+== ?(.*)$', line.rstrip('\n'))
            if not m:
                continue		# "--PID-- warning: ...", not part of a report
            if m.group(1).strip() == '':
                if block:
                    yield block
                block = []
            else:
                block.append(m.group(1))
    if block:
        yield block


def stacks(block):
    """The block's stacks: runs of frame lines, each in order innermost first."""
    out, cur = [], []
    for line in block[1:]:
        if FRAME.match(line):
            cur.append(line)
        elif cur:
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return out


def counts(block, ours):
    if not KIND.match(block[0]):
        return False
    if SERVER_NOISE.search(block[0]):
        for stack in stacks(block):
            for frame in stack:
                if ours.search(frame):
                    return True
                if SERVER_FRAME.search(frame):
                    break
        return False
    return any(ours.search(line) for line in block)


def main(argv):
    dirs, paths = [], []
    args = iter(argv)
    for a in args:
        if a == '--src':
            dirs.append(next(args, ''))
        else:
            paths.append(a)
    if not dirs:
        dirs = [os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'src')]
    files = our_files(dirs)
    if not files:
        print(f'valgrind: no source files in {" ".join(dirs)}')
        return 1
    ours = ours_pattern(files)
    found = gave_up = 0
    for path in paths:
        for block in blocks(path):
            if GAVE_UP.search(block[0]):
                gave_up += 1
                print(f'--- {path}: {block[0]}')
            elif counts(block, ours):
                found += 1
                print(f'--- {path}')
                print('\n'.join(block[:60]))
    print(f'valgrind: our code is awslambda.so and {", ".join(files)}')
    print(f'valgrind: {len(paths)} logs, {found} errors in awslambda code '
          f'(awslambda.so + {len(files)} source files)' +
          (f', {gave_up} logs where valgrind stopped reporting' if gave_up else ''))
    return 1 if found or gave_up or not paths else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
