"""The parts of the documentation that are facts of the code, written from the code.

The command list, the error catalogues, the instance type table and each page's table of
contents would drift if typed by hand. `python -m localbatch.docgen` (`make docs`) rewrites
the blocks between `<!-- begin generated: NAME -->` and `<!-- end generated: NAME -->` in
README.md and docs/*.md; `tests/unit/docgen` fails while a page is out of date.
"""
