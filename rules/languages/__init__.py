"""The two rule languages: the shorthand syntax of cells and the expression language, their lark
grammars and interpreter."""
