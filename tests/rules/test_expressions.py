"""The expression grammar: operators, literals, comments, equality, precedence, limits, errors."""

import math

import pytest

from rules.languages.expressions import (
    MAX_DEPTH,
    MAX_SOURCE_LENGTH,
    EvaluationContext,
    ExpressionSyntaxError,
    StaticDataSource,
    compile_expression,
)

CONTEXT = EvaluationContext(data=StaticDataSource())


def value_of(source: str, context: EvaluationContext = CONTEXT):
    return compile_expression(source).evaluate(context)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # arithmetic, with JavaScript's `+` on text
        ("1 + 2", 3),
        ("7 - 10", -3),
        ("6 * 7", 42),
        ("7 / 2", 3.5),
        ("6 / 3", 2),
        ('"a" + 1', "a1"),
        ('1 + "a"', "1a"),
        ('"1" + 2 + 3', "123"),
        ('1 + 2 + "3"', "33"),
        ('"6" * "7"', 42),
        ('"10" - 4', 6),
        ("true + 1", 2),
        ("null + 1", 1),
        ("undefined + 1", None),  # NaN leaves the expression as None
        ('"x" * 2', None),
        ("0.1 + 0.2", 0.30000000000000004),
        # division by zero follows JavaScript inside, and leaves as None (as JSON.stringify)
        ("1 / 0", None),
        ("1 / 0 > 1e308", True),
        ("-1 / 0 < -1e308", True),
        ("0 / 0 == 0 / 0", False),
        ("1 / -0 < 0", True),
        # unary operators
        ("-5", -5),
        ("- -5", 5),
        ('+"42"', 42),
        ("!0", True),
        ('!""', True),
        ('!"0"', False),
        ("!null", True),
        ("!!1", True),
        # || and && return an operand (JavaScript truthiness)
        ('0 || "fallback"', "fallback"),
        ('"" || null', None),
        ('"set" || "fallback"', "set"),
        ("1 && 2", 2),
        ('0 && "never"', 0),
        ('null && "never"', None),
        # ternary, right-associative
        ('true ? "yes" : "no"', "yes"),
        ('0 ? "yes" : "no"', "no"),
        ("false ? 1 : true ? 2 : 3", 2),
        # relational
        ("1 < 2", True),
        ("2 <= 2", True),
        ("3 > 2", True),
        ("2 >= 3", False),
        ('"10" < "9"', True),  # text with text compares as text
        ('"10" < 9', False),  # otherwise as numbers
        ('"b" > "a"', True),
        ("null < 1", True),
        ("undefined < 1", False),
        ('"x" < 1', False),
    ],
)
def test_operators(source, expected):
    # Given an expression / When evaluated / Then it follows JavaScript's rules
    assert value_of(source) == expected


@pytest.mark.parametrize(
    ("source", "loose", "strict"),
    [
        ('1 {} "1"', True, False),
        ('0 {} ""', True, False),
        ('0 {} "0"', True, False),
        ("1 {} true", True, False),
        ('"1" {} true', True, False),
        ("0 {} false", True, False),
        ("null {} undefined", True, False),
        ("null {} 0", False, False),
        ('null {} ""', False, False),
        ("undefined {} false", False, False),
        ("null {} null", True, True),
        ("undefined {} undefined", True, True),
        ('"a" {} "a"', True, True),
        ("2 {} 2.0", True, True),
        ("0 {} -0", True, True),
        ('" 12 " {} 12', True, False),
        ('"0x10" {} 16', True, False),
        ('"abc" {} "ABC"', False, False),
        ("0 / 0 {} 0 / 0", False, False),  # NaN equals nothing, not even NaN
    ],
)
def test_loose_and_strict_equality(source, loose, strict):
    # Given two operands / When compared with == and === (and their negations)
    # Then == converts types as JavaScript does and === never does
    assert value_of(source.format("==")) is loose
    assert value_of(source.format("!=")) is not loose
    assert value_of(source.format("===")) is strict
    assert value_of(source.format("!==")) is not strict


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("42", 42),
        ("4.5", 4.5),
        (".5", 0.5),
        ("5.", 5),
        ("1e3", 1000),
        ("1E3", 1000),
        ("2.5e-3", 0.0025),
        ("1e+2", 100),
        ("0xff", 255),
        ("0XFF", 255),
        ("0o17", 15),
        ("0O17", 15),
        ("0b101", 5),
        ("0B101", 5),
        ("1e999", None),  # Infinity, as in JavaScript; leaves as None
        ("0x" + "f" * 300, None),  # beyond float range: Infinity too, never an OverflowError
        ("9007199254740993", 9007199254740992),  # float precision, as in JavaScript
        ("1e21", 1e21),  # integral but beyond 2**53: stays a float
        ('"plain"', "plain"),
        ('""', ""),
        (r'"quote \" backslash \\ slash \/"', 'quote " backslash \\ slash /'),
        (r'"\n\t\r\b\f\v"', "\n\t\r\b\f\v"),  # \0 is refused (tests/security)
        (r'"\u00e9\x41\u{1F600}"', "éA😀"),
        (r'"\ud83d\ude00"', "😀"),  # a surrogate pair joins into one character
        (r'"\q"', "q"),  # an unknown escape is the character, as in JavaScript
        ('"line \\\ncontinued"', "line continued"),
        ("true", True),
        ("false", False),
        ("null", None),
        ("undefined", None),
    ],
)
def test_literals(source, expected):
    # Given a literal / When evaluated / Then it has JavaScript's value
    assert value_of(source) == expected


@pytest.mark.parametrize(
    "source",
    [
        "1 + /* a block comment */ 2",
        "/* leading */ 1 + 2",
        "1 + 2 // a line comment",
        "// a first line\n1 + 2",
        "1 + // end of line\n 2",
        "1 /* multi\nline */ + 2",
        "1 + 2 /* trailing */",
        "1 +/**/2",
    ],
)
def test_comments_of_both_styles_are_ignored(source):
    # Given an expression with comments / When evaluated / Then comments change nothing
    assert value_of(source) == 3


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("10 - 4 - 3", 3),  # left-associative
        ("12 / 6 / 2", 1),
        ("2 * 3 + 4 * 5", 26),
        ("-2 * 3", -6),
        ("!0 + 1", 2),  # unary binds tighter than +
        ("1 + 2 > 2", True),  # arithmetic before comparison
        ("1 < 2 == true", True),  # relational before equality
        ("1 == 1 && 2 == 3", False),  # equality before &&
        ("true || false && false", True),  # && before ||
        ("(true || false) && false", False),
        ('0 || 1 ? "a" : "b"', "a"),  # || before ?:
        ("1 ? 2 : 3 ? 4 : 5", 2),
        ('1 + 2 + "x" + 1 + 2', "3x12"),
    ],
)
def test_precedence_and_associativity(source, expected):
    # Given operators of different precedence / When evaluated / Then JavaScript's order holds
    assert value_of(source) == expected


def test_evaluation_is_lazy_where_javascript_is_lazy():
    # Given branches that would fail if evaluated
    failing = 'dateAdd("not a date", {days: 1})'
    # When the branch is not taken / Then it is not evaluated
    assert value_of(f"true || {failing}") is True
    assert value_of(f"false && {failing}") is False
    assert value_of(f'true ? "ok" : {failing}') == "ok"
    assert value_of(f'false ? {failing} : "ok"') == "ok"


@pytest.mark.parametrize(
    ("source", "message", "line", "column"),
    [
        ("", "the expression is empty", 1, 1),
        ("  ", "the expression is empty", 1, 1),
        ("// only a comment", "the expression ends too early", 1, 18),
        ("1 +", "the expression ends too early; expected a value", 1, 4),
        ("1 +\n  2 *", "the expression ends too early", 2, 6),
        ("(1 + 2", "ends too early; expected `)`", 1, 7),
        ("1 ) 2", "unexpected `)`; expected the end of the expression", 1, 3),
        ("1 2", "unexpected `2`", 1, 3),
        ("a.b", "unexpected character `.`", 1, 2),
        ('lastVal("plan.title").length', "unexpected character `.`", 1, 22),
        ("x", "unknown name `x`: there are no variables", 1, 1),
        ("foo(1)", "unknown function `foo`", 1, 1),
        ("\n  eval(1)", "unknown function `eval`", 2, 3),
        ("Date(2024, 0)", "unknown function `Date`", 1, 1),
        ("new Foo()", "unknown function `new Foo`", 1, 5),
        ("power(1)", "`power` takes 2 arguments, not 1", 1, 1),
        ("power(1, 2, 3)", "`power` takes 2 arguments, not 3", 1, 1),
        ("now(1)", "`now` takes 0 arguments, not 1", 1, 1),
        ("min()", "`min` takes at least 1 argument, not 0", 1, 1),
        ('lastVal("a.b", "c.d")', "`lastVal` takes 1 argument, not 2", 1, 1),
        ("new Date(1, 2, 3, 4, 5, 6, 7, 8)", "`new Date` takes 0 to 7 arguments, not 8", 1, 5),
        ("lastVal(1)", "`lastVal` takes a data reference in quotes", 1, 1),
        ('lastVal("plan" + ".title")', "takes a data reference in quotes", 1, 1),
        ('lastVal("title")', '"title" is not a data reference', 1, 1),
        ('lastVal("plan..title")', "is not a data reference", 1, 1),
        ('lastVal(" plan.title")', "is not a data reference", 1, 1),
        ("{days: 3}", "unexpected `{`", 1, 1),
        ("power({days: 3}, 2)", "an object literal such as {days: 3} is only allowed", 1, 7),
        ("dateAdd(now(), 3)", "`dateAdd` takes a duration such as {days: 3}", 1, 1),
        ("dateAdd(now(), {day: 3})", "unknown duration `day`; use years, months", 1, 17),
        ("dateAdd(now(), {days: 1, days: 2})", "`days` appears twice", 1, 26),
        ('dateFormat(now(), "YYYY")', "dateFormat does not support `YYYY`", 1, 1),
        ('dateFormat(now(), "\'open")', "unclosed quote", 1, 1),
        ('"abc', 'text is not closed: add a `"`', 1, 1),
        ("'abc'", "text is written in double quotes", 1, 1),
        ('"a\nb"', "text is not closed", 1, 1),
        ("1 /* never closed", "the comment is not closed", 1, 3),
        (r'"\u12"', "bad escape", 1, 1),
        (r'"\x4"', "bad escape", 1, 1),
        (r'"\u{110000}"', "bad escape", 1, 1),
        (r'"\ud83d"', "lone surrogate", 1, 1),
        ("1 # 2", "unexpected character `#`", 1, 3),
        ("0x", "unexpected `x`", 1, 2),
        ("a = 1", "unexpected character `=`", 1, 3),
        ("1 = 1", "unexpected character `=`", 1, 3),
        ("1 ** 2", "unexpected `*`", 1, 4),
        ("1 % 2", "unexpected character `%`", 1, 3),
        ("[1, 2]", "unexpected character `[`", 1, 1),
        ("(() => 1)()", "unexpected `)`", 1, 3),
        ("/* never closed", "the comment is not closed", 1, 1),
    ],
)
def test_syntax_errors_say_what_and_where(source, message, line, column):
    # Given a source that cannot be compiled / When compiled
    with pytest.raises(ExpressionSyntaxError) as caught:
        compile_expression(source)
    # Then ExpressionSyntaxError says what is wrong, at which line and column
    error = caught.value
    assert message in error.message
    assert (error.line, error.column) == (line, column)
    assert f"(line {line}, column {column})" in str(error)


def test_a_source_of_the_maximum_length_compiles_and_one_more_character_is_refused():
    # Given a source padded by a comment to exactly the limit
    source = "1 + 2 //"
    source += "x" * (MAX_SOURCE_LENGTH - len(source))
    # When compiled / Then it is accepted; one more character is refused
    assert value_of(source) == 3
    with pytest.raises(ExpressionSyntaxError, match=f"at most {MAX_SOURCE_LENGTH} characters"):
        compile_expression(source + "x")


def test_nesting_up_to_the_limit_compiles_and_deeper_is_refused():
    # Given unary operators nested to depth MAX_DEPTH (the literal is one more level)
    # When compiled / Then MAX_DEPTH levels are accepted and one more is refused
    assert value_of(" ".join("-" * (MAX_DEPTH - 1)) + " 1") == (-1) ** (MAX_DEPTH - 1)
    with pytest.raises(ExpressionSyntaxError, match=f"more than {MAX_DEPTH} levels"):
        compile_expression(" ".join("-" * MAX_DEPTH) + " 1")


def test_a_chain_of_operators_counts_towards_the_depth():
    # Given a long chain of additions (a left-deep tree) / When compiled / Then it is refused
    with pytest.raises(ExpressionSyntaxError, match="levels deep"):
        compile_expression(" + ".join(["1"] * (MAX_DEPTH + 1)))
    assert value_of(" + ".join(["1"] * MAX_DEPTH)) == MAX_DEPTH


def test_deep_parentheses_within_the_size_limit_never_overflow_the_stack():
    # Given parentheses nested as deep as the size limit allows (they add no tree levels)
    depth = (MAX_SOURCE_LENGTH - 1) // 2
    # When compiled / Then it works without a RecursionError
    assert value_of("(" * depth + "1" + ")" * depth) == 1
    # And unary operators as deep as the size limit allows are refused, not a RecursionError
    with pytest.raises(ExpressionSyntaxError, match="levels deep"):
        compile_expression("!" * (MAX_SOURCE_LENGTH - 1) + "1")


@pytest.mark.parametrize(
    ("source", "expected_type"),
    [
        ("1 + 2", "number"),
        ('"a" + 1', "text"),
        ('lastVal("plan.title") + "!"', "text"),
        ('lastVal("plan.score") + 1', "any"),
        ('lastVal("plan.score") * 2', "number"),
        ("now() + 1", "text"),  # a Date turns into text under +
        ("now() - now()", "number"),
        ("1 < 2", "boolean"),
        ('1 == "1"', "boolean"),
        ("!1", "boolean"),
        ("-true", "number"),
        ("true ? 1 : 2", "number"),
        ('true ? 1 : "2"', "any"),
        ("0 || 5", "number"),
        ('0 || "five"', "any"),
        ("null", "any"),
        ('lastStr("plan.title")', "text"),
        ('lastVal("plan.title")', "any"),
        ('submissionVal("submission.form1.weight")', "any"),
        ("new Date(2024, 0, 1)", "date"),
        ("dateAdd(now(), {days: 1})", "date"),
        ("differenceInDays(now(), now())", "number"),
        ('dateFormat(now(), "yyyy")', "text"),
        ("power(2, 3)", "number"),
        ("min(1, 2)", "number"),
    ],
)
def test_the_result_type_is_known_before_evaluation(source, expected_type):
    # Given an expression / When its type is inferred at save time
    # Then it names the type every evaluation produces (or "any")
    assert compile_expression(source).infer_type() == expected_type


def test_references_lists_every_data_reference_read():
    # Given an expression reading data in several places, one of them twice
    expression = compile_expression(
        'lastVal("plan.riskStatus") == "HIGH" ? firstStr("submission.intake.name")'
        ' : submissionVal("integration.aiEngineTimeSlot.timeSlot") + lastStr("plan.riskStatus")'
    )
    # When its references are asked for / Then each appears once, branches included
    assert expression.references() == {
        "plan.riskStatus",
        "submission.intake.name",
        "integration.aiEngineTimeSlot.timeSlot",
    }
    # And the set handed out is a copy
    expression.references().clear()
    assert len(expression.references()) == 3


def test_an_expression_is_reusable_and_immutable():
    # Given a compiled expression / When evaluated twice / Then the answers agree
    expression = compile_expression("6 * 7")
    assert expression.evaluate(CONTEXT) == expression.evaluate(CONTEXT) == 42
    # And it cannot be changed
    with pytest.raises(AttributeError):
        expression.source = "1"


def test_numbers_come_back_as_int_when_integral_and_float_otherwise():
    # Given integral and fractional results / When evaluated / Then types suit the caller
    assert type(value_of("2 * 3")) is int
    assert type(value_of("2 / 4")) is float
    assert math.isclose(value_of("1 / 3"), 1 / 3)
    assert type(value_of("power(2, 60)")) is float  # beyond 2**53
