#!/usr/bin/env python3
"""Mutation testing of the core modules: does some test fail when the code is made wrong?

    python tools/mutation.py [--modules=generator,selection,patchwise,noise] [--workers=2]

Why not mutmut: mutmut 3 replaces every mutated function by a trampoline `f(*args, **kwargs)`,
and Keras reads the signatures of `__init__` and `call` (Operation.__new__ fails with
"IndexError: list index out of range" on the first model built), so no test runs. Here each
mutant is the module's source with one change, written over the module in a scratch copy of
the repository, and the module's fast tests run in a fresh process (`-x`: the first failure
kills it). A mutant that no test kills survives and is listed with its line.

Mutations (on code, never on docstrings or message strings): comparison operators flipped
or negated, arithmetic operators swapped, integer constants +1 (0 -> 1), float
constants halved (0.0 -> 1.0; parameter and dataclass-field defaults left alone), True <-> False, `and` <-> `or`, `not` dropped, list and tuple elements
swapped (not lists of constants), keyword arguments dropped (not `name=`), one statement (assignment, call or return value)
replaced by `pass` / `None`. Results go to tools/mutation.json.
"""

import argparse
import ast
import copy
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The module, and the tests that exercise it (fast ones; the whole suite takes 13 minutes).
MODULES = {
    "generator": ("srim_tf/model/generator.py",
                  ["tests/test_model.py", "tests/test_same_outputs.py::test_samples_of_the_shipped_model_are_unchanged"]),
    "selection": ("srim_tf/training/selection.py",
                  ["tests/test_selection.py", "tests/test_same_outputs.py::test_training_through_srim_train_gives_the_same_weights",
                   "tests/test_patchwise.py"]),
    "patchwise": ("srim_tf/training/patchwise.py",
                  ["tests/test_patchwise.py", "tests/test_same_outputs.py::test_training_through_srim_train_gives_the_same_weights"]),
    "noise": ("srim_tf/inference/noise.py",
              ["tests/test_noise.py", "tests/test_inference.py::test_tiled_and_untiled_outputs_agree",
               "tests/test_same_outputs.py::test_samples_of_the_shipped_model_are_unchanged"]),
}
SWAPS = {ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE,
         ast.GtE: ast.Gt, ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In,
         ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
         ast.FloorDiv: ast.Mult, ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult,
         ast.BitXor: ast.BitOr, ast.RShift: ast.LShift, ast.LShift: ast.RShift,
         ast.And: ast.Or, ast.Or: ast.And}


def _docstring_nodes(tree):
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and node.body and \
                isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant):
            found.add(id(node.body[0]))
    return found


def _in_raise(tree):
    """Nodes inside `raise` statements: their message strings and formatting are not logic."""
    inside = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise):
            inside.update(id(child) for child in ast.walk(node))
    return inside


def _defaults(tree):
    """Default values of parameters: the tests pass their own values, so mutating a default
    measures the defaults, not the logic (the flags hold the defaults users get)."""
    inside = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.arguments):
            for default in node.defaults + [d for d in node.kw_defaults if d is not None]:
                inside.update(id(child) for child in ast.walk(default))
        if isinstance(node, ast.ClassDef):  # dataclass field defaults
            for statement in node.body:
                if isinstance(statement, ast.AnnAssign) and statement.value is not None:
                    inside.update(id(child) for child in ast.walk(statement.value))
    return inside


def mutants(source):
    """`(line, description, mutated module source)` for every mutation of `source`."""
    tree = ast.parse(source)
    skip = _docstring_nodes(tree) | _in_raise(tree) | _defaults(tree)
    points = []  # (path of indices to the node, kind, detail)
    for node in ast.walk(tree):
        if id(node) in skip or isinstance(node, ast.JoinedStr):
            continue
        if isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                if type(op) in SWAPS:
                    points.append((node, "compare", i))
        elif isinstance(node, (ast.BinOp, ast.AugAssign)) and type(node.op) in SWAPS:
            points.append((node, "binop", None))
        elif isinstance(node, ast.BoolOp):
            points.append((node, "boolop", None))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            points.append((node, "not", None))
        elif isinstance(node, ast.Constant) and not isinstance(node.value, str):
            if isinstance(node.value, bool):
                points.append((node, "bool", None))
            elif isinstance(node.value, int):
                points.append((node, "int:1" if node.value == 0 else "int+1", None))
            elif isinstance(node.value, float):
                points.append((node, "float/2", None))
        elif isinstance(node, (ast.List, ast.Tuple)) and len(node.elts) >= 2 and \
                isinstance(node.ctx, ast.Load) and \
                not all(isinstance(e, ast.Constant) for e in node.elts[:2]):  # not lists of names
            points.append((node, "swap", None))
        elif isinstance(node, ast.Call) and node.keywords:
            for i in range(len(node.keywords)):
                if node.keywords[i].arg not in (None, "name"):  # layer names are labels
                    points.append((node, "dropkw", i))
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.Expr, ast.Return)) and id(node) not in skip \
                and not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):
            points.append((node, "delete", None))
    found = []
    for target, kind, detail in points:
        mutated_tree = copy.deepcopy(tree)
        # Find the same node in the copy by walking both trees in the same order.
        index = [id(n) for n in ast.walk(tree)].index(id(target))
        node = list(ast.walk(mutated_tree))[index]
        description = _apply(node, kind, detail, mutated_tree)
        if description is None:
            continue
        try:
            code = ast.unparse(ast.fix_missing_locations(mutated_tree))
            compile(code, "<mutant>", "exec")
        except (SyntaxError, ValueError):
            continue
        found.append((target.lineno, description, code))
    return found


def _replace_statement(tree, node, replacement):
    for parent in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            block = getattr(parent, field, None)
            if isinstance(block, list) and node in block:
                block[block.index(node)] = replacement
                return True
    return False


def _apply(node, kind, detail, tree):
    if kind == "compare":
        old = node.ops[detail]
        node.ops[detail] = SWAPS[type(old)]()
        return f"{type(old).__name__} -> {type(node.ops[detail]).__name__}"
    if kind in ("binop", "boolop"):
        old = node.op
        node.op = SWAPS[type(old)]()
        return f"{type(old).__name__} -> {type(node.op).__name__}"
    if kind == "not":
        return "drop `not`" if _replace_expression(tree, node, node.operand) else None
    if kind == "bool":
        node.value = not node.value
        return f"{not node.value} -> {node.value}"
    if kind.startswith("int"):
        old = node.value
        node.value = old + 1 if kind == "int+1" else (1 if kind == "int:1" else old - 1)
        return f"{old} -> {node.value}"
    if kind == "float/2":
        old = node.value
        node.value = old / 2 if old else 1.0
        return f"{old} -> {node.value}"
    if kind == "swap":
        node.elts[0], node.elts[1] = node.elts[1], node.elts[0]
        return "swap the first two elements"
    if kind == "dropkw":
        keyword = node.keywords.pop(detail)
        return f"drop keyword {keyword.arg}="
    if kind == "delete":
        if isinstance(node, ast.Return):
            if node.value is None:
                return None
            node.value = ast.Constant(None)
            return "return None"
        return "statement -> pass" if _replace_statement(tree, node, ast.Pass()) else None
    return None


def _replace_expression(tree, node, replacement):
    for parent in ast.walk(tree):
        for field, value in ast.iter_fields(parent):
            if value is node:
                setattr(parent, field, replacement)
                return True
            if isinstance(value, list) and node in value:
                value[value.index(node)] = replacement
                return True
    return False


def run_mutant(workdir, module_path, code, tests, timeout):
    """'killed', 'survived' or 'timeout' for one mutant, run in `workdir` (a repository copy)."""
    with open(os.path.join(workdir, module_path), "w", encoding="utf-8") as f:
        f.write(code)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=workdir)
    try:
        result = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                                 *tests], cwd=workdir, env=env, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout"
    return "survived" if result.returncode == 0 else "killed"


def _scratch_copy(index):
    path = f"/tmp/srim_mutation_{index}"
    shutil.rmtree(path, ignore_errors=True)
    shutil.copytree(ROOT, path, ignore=shutil.ignore_patterns(".venv", ".git", "workdirs", "__pycache__"))
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--modules", default=",".join(MODULES))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=300, help="Seconds per mutant.")
    parser.add_argument("--out", default=os.path.join(ROOT, "tools", "mutation"))
    parser.add_argument("--survivors_only", action="store_true",
                        help="Run again only the mutants an earlier run left alive (after tests"
                             " were added for them); results go under 'rerun'.")
    args = parser.parse_args()
    copies = [_scratch_copy(i) for i in range(args.workers)]
    results = {}
    if os.path.isfile(args.out + ".json"):  # Modules run earlier keep their results.
        with open(args.out + ".json", encoding="utf-8") as f:
            results = json.load(f)
    for name in args.modules.split(","):
        module_path, tests = MODULES[name]
        source = open(os.path.join(ROOT, module_path), encoding="utf-8").read()
        found = mutants(source)
        if args.survivors_only:
            alive = {(m["line"], m["mutation"]) for m in results[module_path]["not_killed"]}
            found = [m for m in found if (m[0], m[1]) in alive]
        print(f"{module_path}: {len(found)} mutants", flush=True)
        start = time.time()

        def run(item, name=name):
            index, (line, description, code) = item
            workdir = copies[index % len(copies)]
            return line, description, run_mutant(workdir, module_path, code, tests, args.timeout)

        # Each worker owns one scratch copy: mutants i, i + w, ... run there in turn.
        outcomes = [None] * len(found)

        def worker(w):
            for i in range(w, len(found), len(copies)):
                outcomes[i] = run((w, found[i]))
                if outcomes[i][2] != "killed":
                    print(f"  {outcomes[i][2]}: line {outcomes[i][0]}: {outcomes[i][1]}", flush=True)
            # Leave the scratch copy's module as it was.
            with open(os.path.join(copies[w], module_path), "w", encoding="utf-8") as f:
                f.write(source)

        with ThreadPoolExecutor(len(copies)) as pool:
            list(pool.map(worker, range(len(copies))))
        run_results = {
            "tests": tests, "mutants": len(found), "seconds": round(time.time() - start),
            "killed": sum(o[2] == "killed" for o in outcomes),
            "not_killed": [{"line": line, "mutation": d, "outcome": o}
                           for line, d, o in outcomes if o != "killed"]}
        if args.survivors_only:
            results[module_path]["rerun"] = run_results
        else:
            results[module_path] = run_results
        print(f"  {run_results['killed']} of {len(found)} killed in {run_results['seconds']} s",
              flush=True)
        with open(args.out + ".json", "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)
    for path in copies:
        shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    main()
