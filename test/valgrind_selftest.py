#!/usr/bin/env python3
"""Shows that test/valgrind_check.py catches what it must and only that.

usage: valgrind_selftest.py   (needs cc and valgrind; exit 1 on any failure)

Runs test/valgrind_selftest.c under valgrind with the server's options
($AWL_VALGRIND_OPTS from test/lib.sh) and checks the checker's verdicts:
  * errors in src/parse.c, linked in unchanged and misused by the driver
    (invalid read and write, uninitialised jump, definite leak): every one
    is reported, naming parse.c, though the check before issue 20 (its
    pattern is kept below) let all of them pass;
  * the same with valgrind's "--PID--" warnings between the reports;
  * the same errors with parse.c built without debug info into an
    awslambda.so, where frames read "(in .../awslambda.so)";
  * errors in the driver alone and a possibly lost block from parse.c: not
    reported; with the driver's directory given as ours, all but the
    possibly lost block are;
  * the server's own noise recorded in a real run (test/testdata/), padding
    written under our dispatcher and leaks of its start-up: not reported.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import valgrind_check  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
SRC = os.path.join(TOP, 'src')
CHECK = os.path.join(HERE, 'valgrind_check.py')
OPTS = os.environ.get('AWL_VALGRIND_OPTS') or (
    '--quiet --track-origins=yes --read-var-info=yes --num-callers=50 '
    '--leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite')
# The check as it was before issue 20: a frame in awslambda.so or one of six files.
OLD_OURS = re.compile(r'awslambda\.so|\((?:awslambda|credentials|http|invoke|jsonutil|sigv4)\.c:\d+\)')

passed = failed = 0


def record(name, ok, detail=''):
    global passed, failed
    if ok:
        passed += 1
        print(f'ok   {name}')
    else:
        failed += 1
        print(f'FAIL {name}' + (f'\n{detail}' if detail else ''))


def run(*cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def valgrind(tmp, name, program, mode, extra=()):
    log = os.path.join(tmp, name + '.log')
    run('valgrind', *OPTS.split(), *extra, f'--log-file={log}', program, mode)
    return log


def check(log, *src):
    """The checker's exit status, its count of errors, and its output."""
    args = []
    for d in src or (SRC,):
        args += ['--src', d]
    r = run(sys.executable, CHECK, *args, log)
    m = re.search(r'(\d+) errors in awslambda code', r.stdout)
    return r.returncode, int(m.group(1)) if m else -1, r.stdout


def reports(log):
    """The error and leak reports of a log (first lines after an empty "==PID== " line)."""
    heads, new = [], True
    with open(log) as f:
        for line in f:
            if re.match(r'^==\d+== ?$', line.rstrip('\n')):
                new = True
            elif line.startswith('=='):
                if new:
                    heads.append(line)
                new = False
    return heads


def main():
    tmp = tempfile.mkdtemp(prefix='awl-vgself.')
    try:
        driver = os.path.join(HERE, 'valgrind_selftest.c')
        parse = os.path.join(SRC, 'parse.c')
        prog = os.path.join(tmp, 'selftest')
        lib = os.path.join(tmp, 'lib')
        os.mkdir(lib)
        for cmd in (['cc', '-g', '-O0', '-I', SRC, '-o', prog, driver, parse],
                    ['cc', '-g0', '-O0', '-fPIC', '-shared', '-o', os.path.join(lib, 'awslambda.so'), parse],
                    ['cc', '-g', '-O0', '-I', SRC, '-o', prog + '-so', driver,
                     '-L' + lib, '-l:awslambda.so', '-Wl,-rpath,' + lib]):
            r = run(*cmd)
            if r.returncode != 0:
                record('build ' + os.path.basename(cmd[-1]), False, r.stdout)
                return 1

        # Errors in parse.c, with debug info: frames "(parse.c:NN)".
        log = valgrind(tmp, 'ours', prog, 'ours')
        n = len(reports(log))
        rc, found, out = check(log)
        blocks = out.split('--- ')[1:]
        record(f'parse.c errors reported ({found} of {n} reports, exit {rc})',
               rc == 1 and n >= 4 and found == n, out)
        record('each report names parse.c',
               found > 0 and len(blocks) == found and all('(parse.c:' in b for b in blocks), out)
        with open(log) as f:
            text = f.read()
        kinds = ['Invalid read', 'Invalid write', 'Conditional jump', 'definitely lost']
        record('the reports are ' + ', '.join(kinds), all(k in text for k in kinds), text)
        old = [b for b in text.split('\n==') if OLD_OURS.search(b)]
        record('the check before issue 20 found none of them', not old, '\n'.join(old))
        rc, found, out = check(log, tmp)
        record('a source directory without C files is refused', rc == 1 and 'no source files' in out, out)

        # The same with valgrind's own warnings between the reports.
        warned = os.path.join(tmp, 'warned.log')
        with open(warned, 'w') as f:
            for line in text.splitlines(keepends=True):
                f.write(line)
                if re.match(r'^==\d+== ?$', line.rstrip('\n')):
                    f.write('--1-- warning: evaluate_Dwarf3_Expr: unhandled DW_OP_ 0x9b\n')
        rc, found2, out = check(warned)
        record(f'the same behind "--PID--" warnings ({found2} of {n})', rc == 1 and found2 == n, out)

        # The same errors in an awslambda.so without debug info.
        log = valgrind(tmp, 'so', prog + '-so', 'ours')
        n = len(reports(log))
        rc, found, out = check(log)
        with open(log) as f:
            so_frames = '/awslambda.so)' in f.read()
        record(f'awslambda.so without debug info reported ({found} of {n} reports, exit {rc})',
               rc == 1 and n >= 4 and found == n and so_frames, out)

        # Errors that are not ours, and a possibly lost block that is.
        log = valgrind(tmp, 'theirs', prog, 'theirs', ['--show-leak-kinds=definite,possible'])
        n = len(reports(log))
        rc, found, out = check(log)
        with open(log) as f:
            text = f.read()
        record(f'errors outside our files not reported ({n} reports, exit {rc})',
               rc == 0 and found == 0 and n >= 5 and 'possibly lost' in text, out)
        rc, found, out = check(log, HERE)
        record(f'with the driver as ours, all but the possibly lost block ({found} of {n})',
               rc == 1 and found == n - 1, out)

        # The server's own noise, from a real run, with our frames lower down.
        noise = os.path.join(HERE, 'testdata', 'valgrind-server-noise.log')
        rc, found, out = check(noise)
        ours = valgrind_check.ours_pattern(valgrind_check.our_files([SRC]))
        under_ours = sum(1 for b in valgrind_check.blocks(noise) if any(ours.search(l) for l in b))
        record(f'server noise under our frames not reported ({under_ours} such reports, exit {rc})',
               rc == 0 and found == 0 and under_ours >= 2, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f'valgrind selftest: {passed} passed, {failed} failed')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
