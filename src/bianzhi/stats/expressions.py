"""A jurisdiction's own indicators: arithmetic over the codes of the catalogue (e.g.
``(I01 - I03) / I03 * 100`` or ``I11 + I16``). Parsed with :mod:`ast` and evaluated on
Decimals; only codes of scalar indicators, numbers, + − × ÷ and parentheses are allowed; a
division by zero (or an unknown value) gives ``None``."""

from __future__ import annotations

import ast
import decimal
import re
from typing import Any

CODE = re.compile(r"^I\d{2}$")
_OPS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
        ast.Div: lambda a, b: a / b if b else None}


def parse(expression: str, scalars: set[str]) -> ast.Expression:
    """The parsed expression, or ValueError naming what is not allowed."""
    if not expression or len(expression) > 200:
        raise ValueError("length")
    try:
        tree = ast.parse(expression.replace("×", "*").replace("÷", "/").replace("−", "-"), mode="eval")
    except SyntaxError:
        raise ValueError("syntax") from None
    for node in ast.walk(tree):
        if isinstance(node, (ast.Expression, ast.BinOp, ast.UnaryOp, ast.USub, ast.UAdd, ast.Load, *_OPS)):
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            continue
        if isinstance(node, ast.Name) and CODE.match(node.id) and node.id in scalars:
            continue
        raise ValueError(type(node).__name__)
    return tree


def evaluate(tree: ast.Expression, values: dict[str, Any]) -> decimal.Decimal | None:
    def ev(node: ast.AST) -> decimal.Decimal | None:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant):
            return decimal.Decimal(str(node.value))
        if isinstance(node, ast.Name):
            value = values.get(node.id)
            return None if value is None else decimal.Decimal(str(value))
        if isinstance(node, ast.UnaryOp):
            inner = ev(node.operand)
            return None if inner is None else (-inner if isinstance(node.op, ast.USub) else inner)
        if isinstance(node, ast.BinOp):
            left, right = ev(node.left), ev(node.right)
            if left is None or right is None:
                return None
            return _OPS[type(node.op)](left, right)
        raise ValueError(type(node).__name__)

    result = ev(tree)
    return None if result is None else result.quantize(decimal.Decimal("0.0001"), rounding=decimal.ROUND_HALF_EVEN)
