r"""Write the workshop notebooks from their lists of cells, or check the committed ones are current.

    python notebooks/build.py          # write 01_write_your_optimizers{,_solutions}.ipynb and
                                       # 02_compare_your_optimizer.ipynb
    python notebooks/build.py --check  # exit 1 if a committed notebook differs from its source

The exercises and their solutions both come from ``CELLS`` below, so that they cannot drift
apart; ``COMPARE_CELLS`` is the comparison notebook, which has no blanks. An exercise cell
holds both versions of each blank, nbgrader style:

    ### BEGIN SOLUTION
    (the solution's lines)
    ### BLANK
    (the exercise's lines, ending in a raise NotImplementedError that names what to write)
    ### END SOLUTION

The solutions notebook keeps the first part, the exercises the second; the marker lines go.
Notebooks are written without outputs or execution counts and with fixed cell ids, so that a
rebuild of unchanged cells is byte for byte the same file. Edit this file, not the notebooks.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
STEM = "01_write_your_optimizers"
EXERCISES = f"{STEM}.ipynb"
SOLUTIONS = f"{STEM}_solutions.ipynb"
COMPARE = "02_compare_your_optimizer.ipynb"

BEGIN, BLANK, END = "### BEGIN SOLUTION", "### BLANK", "### END SOLUTION"
CHECK_TAG, EXERCISE_TAG, PARAMETERS_TAG = "check", "exercise", "parameters"
METADATA = {
    "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}


@dataclasses.dataclass(frozen=True)
class Cell:
    """A notebook cell: ``kind`` "markdown" or "code"; ``tags`` mark exercises and checks."""

    kind: str
    source: str
    tags: tuple[str, ...] = ()


def markdown(source: str) -> Cell:
    return Cell("markdown", source.strip("\n"))


def code(source: str) -> Cell:
    return Cell("code", source.strip("\n"))


def exercise(source: str) -> Cell:
    """A code cell with BEGIN SOLUTION / BLANK / END SOLUTION blocks."""
    return Cell("code", source.strip("\n"), (EXERCISE_TAG,))


def check(source: str) -> Cell:
    """A code cell that runs the conformance kit on an exercise and ends in assert_ok()."""
    return Cell("code", source.strip("\n"), (CHECK_TAG,))


def fill(source: str, solutions: bool) -> str:
    """``source`` with each BEGIN/BLANK/END block reduced to its solution or its blank."""
    lines, part = [], None  # part: None outside a block, else "solution" or "blank"
    for number, line in enumerate(source.splitlines(), 1):
        marker = line.strip()
        expected = {BEGIN: None, BLANK: "solution", END: "blank"}.get(marker, part)
        if expected != part:
            raise ValueError(f"line {number}: {marker!r} out of order in\n{source}")
        if marker in (BEGIN, BLANK, END):
            part = {BEGIN: "solution", BLANK: "blank", END: None}[marker]
        elif part is None or (part == "solution") == solutions:
            lines.append(line)
    if part is not None:
        raise ValueError(f"a block is not closed with {END!r} in\n{source}")
    return "\n".join(lines)


def notebook(cells: list[Cell], solutions: bool) -> nbformat.NotebookNode:
    """The exercises (``solutions=False``) or the solutions notebook, without outputs."""
    nb = nbformat.v4.new_notebook(metadata=METADATA)
    for index, cell in enumerate(cells):
        new = nbformat.v4.new_code_cell if cell.kind == "code" else nbformat.v4.new_markdown_cell
        metadata = {"tags": list(cell.tags)} if cell.tags else {}
        nb.cells.append(
            new(fill(cell.source, solutions), id=f"cell-{index:02d}", metadata=metadata)
        )
    nbformat.validate(nb)
    return nb


def parameters(source: str) -> Cell:
    """The code cell of a notebook's settings, tagged as papermill does (the tests replace it)."""
    return Cell("code", source.strip("\n"), (PARAMETERS_TAG,))


def texts() -> dict[str, str]:
    """File name ↦ the text to write, for every notebook."""
    books = ((EXERCISES, CELLS, False), (SOLUTIONS, CELLS, True), (COMPARE, COMPARE_CELLS, True))
    return {
        name: nbformat.writes(notebook(cells, solutions)) + "\n" for name, cells, solutions in books
    }


def stale(directory: Path = HERE) -> list[str]:
    """The notebooks in ``directory`` that are missing or differ from what ``texts`` writes."""
    return [
        name
        for name, text in texts().items()
        if not (directory / name).is_file()
        or (directory / name).read_text(encoding="utf-8") != text
    ]


def main(argv: list[str] | None = None, directory: Path = HERE) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 if stale")
    args = parser.parse_args(argv)
    if args.check:
        outdated = stale(directory)
        for name in outdated:
            print(
                f"{directory / name}: differs from notebooks/build.py (outputs, or an edit made "
                "in Jupyter); run python notebooks/build.py",
                file=sys.stderr,
            )
        if not outdated:
            print(f"{EXERCISES}, {SOLUTIONS} and {COMPARE} match notebooks/build.py")
        return 1 if outdated else 0
    for name, text in texts().items():
        (directory / name).write_text(text, encoding="utf-8")
        print(f"wrote {directory / name}")
    return 0


# The exercises. Markdown cells use the slides' symbols; code cells follow the library's style
# (full words in the API, the symbols in docstrings).
CELLS = [
    markdown(r"""
# Write your own optimizers

**jaxopt_lab** rebuilds the workshop *Practical Insights into Deep Learning Optimization*
(CO@Work 2024) in JAX: the five optimizers of its slides (SGD, Momentum, Nesterov, AdaGrad
and Adam) as [optax](https://optax.readthedocs.io) gradient transformations, a compiled MNIST
training engine, and studies that compare the optimizers with statistics.

In this notebook you write the five yourself, one exercise each, as the slides state them.
Each exercise has a cell to fill in (it raises `NotImplementedError` until you do) and a
**check cell** that runs jaxopt_lab's conformance kit on your optimizer and compares it step
by step with the library's own. A `PASS` line means a property holds; a `FAIL` line says what
went wrong and how to fix it, and the cell ends in an `AssertionError` until every line passes.

**To run it**, from the repository root: `make notebooks` sets up `.venv` with JupyterLab and
opens this folder. Run the cells from the top (Shift-Enter). Stuck? The notebook
`01_write_your_optimizers_solutions.ipynb` is this one with the blanks filled in.
"""),
    code(r"""
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxopt_lab import testing

# The properties each check cell runs: 7 of the kit's 14, to keep the checks quick (see the end).
PROPERTIES = [
    "jit",
    "no_recompilation",
    "update_dtype",
    "state_dtypes",
    "pytrees",
    "parabola",
    "reference",
]
"""),
    markdown(r"""
## An optimizer in optax

An optimizer is a pair of pure functions, built by a *factory* that closes over the
hyperparameters and returns `optax.GradientTransformation(init_fn, update_fn)`:

- `init_fn(params) -> state` creates what the optimizer remembers between steps (a velocity,
  moment estimates, a step count), usually a `NamedTuple` of arrays shaped like the parameters;
- `update_fn(updates, state, params=None) -> (updates, state)` receives the gradients
  $\nabla_\theta L(\theta_t)$ as `updates` and returns the *change* to add to the parameters,
  with the new state. A descent step therefore returns $-\eta \cdot \text{direction}$;
  `optax.apply_updates` adds it.

Parameters, gradients and state are *pytrees* (nested dicts, lists, tuples of arrays), so work
leaf by leaf with `jax.tree.map(f, tree, *more_trees)`. Keep everything that changes in the
state: `update_fn` runs under `jax.jit`, where Python-side counters do not survive. One step of
optax's own SGD on a small parameter dict:
"""),
    code(r"""
params = {"w": jnp.array([1.0, -2.0]), "b": jnp.array(0.5)}
grads = jax.tree.map(lambda p: 2 * p, params)  # the gradient of L(θ) = ‖θ‖²

tx = optax.sgd(learning_rate=0.1)
state = tx.init(params)
updates, state = tx.update(grads, state, params)
optax.apply_updates(params, updates)  # θ − 0.1 · 2θ = 0.8 θ
"""),
    markdown(r"""
## How the checks work

`testing.check_optimizer(factory, hyperparameters=..., reference=...)` builds your optimizer
with the hyperparameters and checks one property per line (`PROPERTIES` above):

| property | checks |
|---|---|
| `jit` | the same results with and without `jax.jit` |
| `no_recompilation` | a jitted update is traced once over three steps (the state keeps its types) |
| `update_dtype` | the updates keep the gradients' dtype (bfloat16, float32) |
| `state_dtypes` | the state keeps its structure, shapes and dtypes, float16 to float64 |
| `pytrees` | nested containers, empty ones, a Flax-like parameter dict |
| `parabola` | it converges on ½‖θ − c‖² |
| `reference` | 50 float64 steps equal the library's optimizer (rtol 1e-7), η fixed, then varied |

The `reference` is the jaxopt_lab optimizer the check names (`reference="sgd"`), built with the
same hyperparameters and run from the same start on a smooth problem; a failure names the first
step and entry where yours departs. Both run twice: at the constant learning rate given, then
with $\eta$ changing between steps as under a schedule ($\eta$ for 10 steps, then × 0.95 a
step), because some rules differ only there. The checks pass hyperparameters away from the
slides' defaults, so that one your update forgets, or an ε in the wrong place, shows up there.
"""),
    markdown(r"""
## 1. Stochastic gradient descent

The slides' (mini-batch) gradient descent:

$$\theta_{t+1} = \theta_t - \eta \nabla_\theta L(\theta_t)$$

SGD remembers nothing between steps, so its state is optax's `EmptyState()` (given).
**Write** `update_fn`: return $-\eta g$ for every leaf $g$ of the gradients, and the state.
"""),
    exercise(r'''
def my_sgd(learning_rate: float) -> optax.GradientTransformation:
    """Stochastic gradient descent: θ ← θ − η ∇L(θ)."""

    def init_fn(params):
        return optax.EmptyState()

    def update_fn(updates, state, params=None):
        ### BEGIN SOLUTION
        return jax.tree.map(lambda g: -learning_rate * g, updates), state
        ### BLANK
        # updates: the gradients, a pytree shaped like params. Return (−η·g per leaf, state).
        raise NotImplementedError("write the SGD update")
        ### END SOLUTION

    return optax.GradientTransformation(init_fn, update_fn)
'''),
    check(r"""
report = testing.check_optimizer(
    my_sgd, hyperparameters={"learning_rate": 0.01}, reference="sgd", only=PROPERTIES
)
print(report)
report.assert_ok()
"""),
    markdown(r"""
## 2. Momentum

The slides' update keeps a velocity $v$ with the learning rate *inside* it:

$$v_{t+1} = \gamma v_t + \eta \nabla_\theta L(\theta_t), \qquad \theta_{t+1} = \theta_t - v_{t+1}$$

with $\gamma = 0.9$ by default and $v_0 = 0$. (optax and PyTorch keep $\eta$ outside,
$u \leftarrow \gamma u + g$, $\theta \leftarrow \theta - \eta u$: the same steps for a constant
$\eta$, not under a schedule, where each gradient here keeps the $\eta$ of its own step. The
check's second run changes $\eta$, so it fails $\eta$ outside the velocity from step 11 on.)
**Write** `init_fn` (a zero velocity per parameter:
`jax.tree.map(jnp.zeros_like, params)`) and `update_fn` (the new velocity; the step is $-v$).
"""),
    exercise(r'''
class VelocityState(NamedTuple):
    """The velocity v, one array per parameter (it already holds η)."""

    velocity: optax.Updates


def my_momentum(learning_rate: float, momentum: float = 0.9) -> optax.GradientTransformation:
    """Momentum as the slides write it: v ← γ v + η ∇L(θ); θ ← θ − v."""

    def init_fn(params):
        ### BEGIN SOLUTION
        return VelocityState(velocity=jax.tree.map(jnp.zeros_like, params))
        ### BLANK
        raise NotImplementedError("write init_fn: the velocity v₀ = 0")
        ### END SOLUTION

    def update_fn(updates, state, params=None):
        ### BEGIN SOLUTION
        velocity = jax.tree.map(
            lambda v, g: momentum * v + learning_rate * g, state.velocity, updates
        )
        return jax.tree.map(jnp.negative, velocity), VelocityState(velocity)
        ### BLANK
        # jax.tree.map(f, state.velocity, updates) calls f(v, g) leaf by leaf.
        raise NotImplementedError("write the momentum update")
        ### END SOLUTION

    return optax.GradientTransformation(init_fn, update_fn)
'''),
    check(r"""
report = testing.check_optimizer(
    my_momentum,
    hyperparameters={"learning_rate": 0.01, "momentum": 0.8},
    reference="momentum",
    only=PROPERTIES,
)
print(report)
report.assert_ok()
"""),
    markdown(r"""
## 3. Nesterov accelerated gradient

The slides' "look-ahead" rule takes the gradient where momentum is about to carry $\theta$:

$$v_{t+1} = \gamma v_t + \eta \nabla_\theta L(\theta_t - \gamma v_t), \qquad
\theta_{t+1} = \theta_t - v_{t+1}$$

An optax `update_fn` only ever sees the gradient at the current parameters, never at
$\theta - \gamma v$. So let the parameters *be* the look-ahead point $\varphi = \theta - \gamma v$
(as jaxopt_lab's `nesterov` does; its docstring in `jaxopt_lab/optimizers/nesterov.py` has the
details). Since $v_{t+1} - \gamma v_t = \eta \nabla L(\varphi_t)$,

$$\varphi_{t+1} = \theta_{t+1} - \gamma v_{t+1} = \varphi_t + \gamma v_t - (1 + \gamma) v_{t+1}
= \varphi_t - \big(\gamma v_{t+1} + \eta \nabla L(\varphi_t)\big).$$

So with $g = \nabla L(\varphi_t)$, the gradient your `update_fn` receives:

$$v_{t+1} = \gamma v_t + \eta g, \qquad \varphi_{t+1} = \varphi_t - (\gamma v_{t+1} + \eta g)$$

Both start from $v_0 = 0$, so $\varphi_0 = \theta_0$, and the slides' $\theta$ is
$\varphi + \gamma v$ at every step. **Write** `init_fn` and `update_fn` for $\varphi$; the
state is the `VelocityState` of exercise 2. The check follows `reference="nesterov"`, the
library's optimizer, which steps $\varphi$ this way; the library's own tests compare it with
the slides' literal look-ahead rule on $\theta$ (`reference_nesterov` in `tests/reference.py`
runs it and returns $\theta - \gamma v$). Plain momentum already fails at step 1.
"""),
    exercise(r'''
def my_nesterov(learning_rate: float, momentum: float = 0.9) -> optax.GradientTransformation:
    """Nesterov momentum in the look-ahead point φ = θ − γ v: v ← γ v + η g; φ ← φ − (γ v + η g)."""

    def init_fn(params):
        ### BEGIN SOLUTION
        return VelocityState(velocity=jax.tree.map(jnp.zeros_like, params))
        ### BLANK
        raise NotImplementedError("write init_fn: the velocity v₀ = 0")
        ### END SOLUTION

    def update_fn(updates, state, params=None):
        ### BEGIN SOLUTION
        velocity = jax.tree.map(
            lambda v, g: momentum * v + learning_rate * g, state.velocity, updates
        )
        steps = jax.tree.map(lambda v, g: -(momentum * v + learning_rate * g), velocity, updates)
        return steps, VelocityState(velocity)
        ### BLANK
        # updates: g = ∇L(φ), the gradient at the parameters φ.
        raise NotImplementedError("write the Nesterov update of φ")
        ### END SOLUTION

    return optax.GradientTransformation(init_fn, update_fn)
'''),
    check(r"""
report = testing.check_optimizer(
    my_nesterov,
    hyperparameters={"learning_rate": 0.01, "momentum": 0.8},
    reference="nesterov",
    only=PROPERTIES,
)
print(report)
report.assert_ok()
"""),
    markdown(r"""
## 4. AdaGrad

AdaGrad gives each parameter its own step size, smaller where gradients have been large. It
sums the squared gradients, entry by entry (the diagonal $G_{t,ii}$ of the slides):

$$G_{t+1} = G_t + \big(\nabla_\theta L(\theta_t)\big)^2, \qquad
\theta_{t+1} = \theta_t - \frac{\eta}{\sqrt{G_{t+1}} + \epsilon} \cdot \nabla_\theta L(\theta_t)$$

with $G_0 = 0$ and $\epsilon = 10^{-8}$ by default, *outside* the square root. **Write**
`init_fn` and `update_fn`. The check uses $\epsilon = 0.01$, large enough that putting it
inside the root ($\sqrt{G + \epsilon}$, optax's convention) fails the reference.
"""),
    exercise(r'''
class AdaGradState(NamedTuple):
    """G, the sum of the squared gradients so far, one array per parameter."""

    sum_of_squares: optax.Updates


def my_adagrad(learning_rate: float, eps: float = 1e-8) -> optax.GradientTransformation:
    """AdaGrad: G ← G + g²; θ ← θ − η g / (√G + ε)."""

    def init_fn(params):
        ### BEGIN SOLUTION
        return AdaGradState(sum_of_squares=jax.tree.map(jnp.zeros_like, params))
        ### BLANK
        raise NotImplementedError("write init_fn: G₀ = 0")
        ### END SOLUTION

    def update_fn(updates, state, params=None):
        ### BEGIN SOLUTION
        total = jax.tree.map(lambda s, g: s + g**2, state.sum_of_squares, updates)
        steps = jax.tree.map(lambda s, g: -learning_rate * g / (jnp.sqrt(s) + eps), total, updates)
        return steps, AdaGradState(total)
        ### BLANK
        raise NotImplementedError("write the AdaGrad update")
        ### END SOLUTION

    return optax.GradientTransformation(init_fn, update_fn)
'''),
    check(r"""
report = testing.check_optimizer(
    my_adagrad,
    hyperparameters={"learning_rate": 0.1, "eps": 0.01},
    reference="adagrad",
    only=PROPERTIES,
)
print(report)
report.assert_ok()
"""),
    markdown(r"""
## 5. Adam

Adam keeps exponential moving averages of the gradients ($m$, like momentum) and of their
squares ($v$, like AdaGrad), and corrects both for starting at zero:

$$\begin{aligned}
m_{t+1} &= \beta_1 m_t + (1 - \beta_1) \nabla_\theta L(\theta_t) \\
v_{t+1} &= \beta_2 v_t + (1 - \beta_2) \big(\nabla_\theta L(\theta_t)\big)^2 \\
\hat m_{t+1} &= \frac{m_{t+1}}{1 - \beta_1^{t+1}}, \qquad
\hat v_{t+1} = \frac{v_{t+1}}{1 - \beta_2^{t+1}} \\
\theta_{t+1} &= \theta_t - \frac{\eta}{\sqrt{\hat v_{t+1}} + \epsilon} \odot \hat m_{t+1}
\end{aligned}$$

with $\eta = 10^{-3}$, $\beta_1 = 0.9$, $\beta_2 = 0.999$, $\epsilon = 10^{-8}$ by default and
$m_0 = v_0 = 0$. The bias corrections need the step number, so the state holds a step count
$t$ (an int32 scalar, `jnp.zeros([], jnp.int32)`), increased by one in each update before the
corrections use it. **Write** `init_fn` and `update_fn`. Mind the dtypes: `update_dtype`
checks that bfloat16 gradients get bfloat16 updates.
"""),
    exercise(r'''
class AdamState(NamedTuple):
    """The step count t and the moment estimates m and v, one array per parameter each."""

    count: jax.Array
    mu: optax.Updates
    nu: optax.Updates


def my_adam(
    learning_rate: float = 1e-3, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8
) -> optax.GradientTransformation:
    """Adam: θ ← θ − η m̂ / (√v̂ + ε), with bias-corrected moment estimates m̂ and v̂."""

    def init_fn(params):
        ### BEGIN SOLUTION
        # One zeros tree per moment: a state holding one array twice cannot be donated to a
        # jitted step (the kit's `donation` property).
        mu, nu = jax.tree.map(jnp.zeros_like, params), jax.tree.map(jnp.zeros_like, params)
        return AdamState(count=jnp.zeros([], jnp.int32), mu=mu, nu=nu)
        ### BLANK
        raise NotImplementedError("write init_fn: t = 0, m₀ = 0, v₀ = 0")
        ### END SOLUTION

    def update_fn(updates, state, params=None):
        ### BEGIN SOLUTION
        count = state.count + 1
        mu = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, state.mu, updates)
        nu = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * g**2, state.nu, updates)
        # β**t of the int32 count is a float32 scalar, which would turn bfloat16 leaves into
        # float32 ones: cast each step back to its gradient's dtype.
        correction1, correction2 = 1 - b1**count, 1 - b2**count

        def step(m, v, g):
            m_hat, v_hat = m / correction1, v / correction2
            return (-learning_rate * m_hat / (jnp.sqrt(v_hat) + eps)).astype(g.dtype)

        return jax.tree.map(step, mu, nu, updates), AdamState(count, mu, nu)
        ### BLANK
        raise NotImplementedError("write the Adam update")
        ### END SOLUTION

    return optax.GradientTransformation(init_fn, update_fn)
'''),
    check(r"""
report = testing.check_optimizer(
    my_adam,
    hyperparameters={"learning_rate": 0.01, "b1": 0.8, "b2": 0.99, "eps": 1e-3},
    reference="adam",
    only=PROPERTIES,
)
print(report)
report.assert_ok()
"""),
    markdown(r"""
## Where next

**All 14 properties.** The checks above ran 7 of the kit's properties. Leave out
`only=PROPERTIES` to add Rosenbrock and the composition ones (clipping in `optax.chain`,
`optax.inject_hyperparams`, `jax.vmap` over learning rates, `optax.MultiSteps`, extra
arguments). From a terminal, put your factory in a module, say `my_optimizers.py` at the
repository root, and run

```
python scripts/check_optimizer.py my_optimizers:my_adam --reference adam --set learning_rate=1e-2
```

for the same table, with exit status 1 when a property fails; `docs/optimizers.md` ("Checking
an optimizer") describes every property.

**Compare the optimizers.** `make run` trains jaxopt_lab's versions of these five on MNIST as
the workshop did (its MLP, batch 32, 15 epochs, its learning rates), five seeds each, and writes
`runs/seed_table/report.md`: which optimizer does best, and is the difference larger than the
seed-to-seed noise?
"""),
]


# The comparison: the learner's optimizer trained by the engine next to the notebook's five.
COMPARE_CELLS = [
    markdown(r"""
# Compare your optimizer with the classics

The workshop's notebook trains SGD, Momentum, Nesterov, AdaGrad and Adam on MNIST and compares
them. Here your optimizer joins them: jaxopt_lab's engine trains it next to the five, from the
same initial parameters and on the same batches for each seed, and the study machinery reports
whether the differences exceed the seed-to-seed noise (confidence intervals, paired tests).

Any factory works: one from `01_write_your_optimizers`, an optax one (`optax.lion`), or a new
rule. The engine sweeps and schedules the learning rate through `optax.inject_hyperparams`,
so the factory must take `learning_rate`.

**Size.** By default a quick version: 2 seeds × 3 epochs on the full training split, a minute
or two on two cores. Set `FULL = True` for the seed comparison's own protocol (5 seeds ×
15 epochs, the notebook's learning rates), about ten minutes. `WORKLOAD` trains the same
comparison on another of the lab's workloads (docs/workloads.md): MNIST-1D's MLP takes seconds,
the MNIST CNN about half a minute for each epoch of each seed.
"""),
    parameters(r"""
FULL = False  # True: 5 seeds × 15 epochs, the seed comparison's protocol
QUICK = ["train.epochs=3", "train.seeds=[0, 1]"]
WORKLOAD = "mnist_mlp"  # or another of jaxopt_lab.workloads.WORKLOADS, e.g. "mnist1d_mlp"
OUT = "../runs/notebook_compare"  # the study directory: report, tables, figures, metrics
"""),
    code(r"""
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from IPython.display import Image, Markdown, display

from jaxopt_lab import testing
from jaxopt_lab.studies.load import load_spec, spec_from_dict
from jaxopt_lab.studies.runner import run_study
from jaxopt_lab.studies.spec import spec_to_dict
"""),
    markdown(r"""
## Your optimizer

Replace the factory below with yours (keep the name, or change it in the cells after). This
one is a rule the workshop does not cover, AdaBelief (Zhuang et al. 2020): Adam whose second
moment tracks how far the gradient strays from its running mean, $(g_t - m_t)^2$, instead of
$g_t^2$, so that it takes large steps where the gradient is predictable:

$$m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
s_t = \beta_2 s_{t-1} + (1-\beta_2)(g_t - m_t)^2 + \epsilon,$$
$$\theta_t = \theta_{t-1}
  - \eta\, \frac{m_t / (1-\beta_1^t)}{\sqrt{s_t / (1-\beta_2^t)} + \epsilon}.$$
"""),
    code(r"""
class BeliefState(NamedTuple):
    count: jax.Array
    m: optax.Updates
    s: optax.Updates


def my_optimizer(
    learning_rate: float = 1e-3, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-16
) -> optax.GradientTransformation:
    def init_fn(params):
        m, s = jax.tree.map(jnp.zeros_like, params), jax.tree.map(jnp.zeros_like, params)
        return BeliefState(count=jnp.zeros([], jnp.int32), m=m, s=s)

    def update_fn(updates, state, params=None):
        count = state.count + 1
        m = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, state.m, updates)
        s = jax.tree.map(
            lambda s, g, m: b2 * s + (1 - b2) * (g - m) ** 2 + eps, state.s, updates, m
        )
        # β raised to a float t: 1 − β₂ᵗ cancels, and eager JAX rounds β₂ to an int32 power
        # differently from jit.
        t = count.astype(jnp.result_type(float))
        correction1, correction2 = 1 - b1**t, 1 - b2**t

        def step(m, s, g):
            m_hat, s_hat = m / correction1, s / correction2
            return (-learning_rate * m_hat / (jnp.sqrt(s_hat) + eps)).astype(g.dtype)

        return jax.tree.map(step, m, s, updates), BeliefState(count, m, s)

    return optax.GradientTransformation(init_fn, update_fn)
"""),
    markdown(r"""
First the conformance kit (as in notebook 01), on the properties that matter for training:
compiled and eager agree, any parameter tree, dtypes kept, a donated state, inside
`optax.inject_hyperparams` and vmapped over learning rates (how the engine runs a sweep), and
convergence on a parabola. A failure here would also fail the training below, less clearly.
"""),
    check(r"""
report = testing.check_optimizer(
    my_optimizer,
    hyperparameters={"learning_rate": 1e-2},
    only=[
        "jit",
        "pytrees",
        "update_dtype",
        "donation",
        "inject_hyperparams",
        "vmap_learning_rate",
        "parabola",
    ],
)
print(report)
report.assert_ok()
"""),
    markdown(r"""
## Train it next to the five

The seed comparison's study (`configs/studies/seed_table.yaml`: the notebook's MLP, split,
batch size and learning rates) with one more row, yours. The optimizer may be given as the
factory itself; the study stores it by name (`my_optimizer`, registered for this session).
"""),
    code(r"""
settings = ([] if FULL else QUICK) + [f"workload.name={WORKLOAD}"]
spec = load_spec("../configs/studies/seed_table.yaml", settings)
study = spec_to_dict(spec)
study["study"] = "my_comparison"
study["rows"].append(
    {
        "name": "Mine",
        "set": {"optimizer.name": my_optimizer, "optimizer.learning_rate": 1e-3},
    }
)
report = run_study(spec_from_dict(study), OUT, overwrite=True, quiet=True)
display(Markdown(report.headline))
"""),
    markdown(r"""
Training loss, validation loss and validation accuracy per epoch: the mean over seeds, and as
a band its 95 % confidence interval (the t-interval of the mean, the interval of the report's
tables). With the quick version's 2 seeds the band is wide: the t-quantile for 1 degree of
freedom is 12.7.
"""),
    code(r"""
display(Image(Path(OUT) / "figures" / "curves.png"))
"""),
    markdown(r"""
The whole report (ranking per metric, paired comparisons with Holm correction, conclusions
computed from the numbers, the method) is in `report.md` of the study directory:
"""),
    code(r"""
text = (Path(OUT) / "report.md").read_text()
conclusions = text[text.index("### Conclusions") : text.index("## Method")]
display(Markdown(conclusions))
print(f"full report: {Path(OUT).resolve() / 'report.md'}")
"""),
    markdown(r"""
## The full study from a terminal

A factory defined in a notebook lives only as long as its kernel. For a study you can rerun,
put it in a module next to a study file and name it `module:factory`: the study's folder is on
the module path. For example, `my_optimizers.py` beside `configs/studies/mine.yaml`:

```yaml
study: mine
kind: compare
question: Does my optimizer beat the notebook's five?
base:
  model: {hidden_sizes: [128], activation: relu, init: torch}
  train: {epochs: 15, batch_size: 32, seeds: [0, 1, 2, 3, 4]}
  data: {source: auto, split_seed: 0}
rows:
  - {name: SGD, set: {optimizer.name: sgd, optimizer.learning_rate: 0.01}}
  - {name: Adam, set: {optimizer.name: adam, optimizer.learning_rate: 1.0e-3}}
  - name: Mine
    set: {optimizer.name: "my_optimizers:my_optimizer", optimizer.learning_rate: 1.0e-3}
```

then, from the repository root,

```
python scripts/compare.py --config configs/studies/mine.yaml --out runs/mine
```

The report's Method section records the file of `my_optimizers.py` and its sha256, so it says
exactly which version of your optimizer it measured. `configs/studies/beyond.yaml` is such a
study, with optax's Lion and Muon and an AdaBelief module beside Adam and Momentum.
"""),
]


if __name__ == "__main__":
    sys.exit(main())
