"""The run report of one job: its DAG, a timeline of every attempt, and what each attempt
used against its instance type, as one self-contained HTML file, JSON or terminal text.

`model.build_report` reads the store once into a `JobReport`; the views (`html`,
`json_view`, `text`) only shape it; `writer` puts the HTML where `localbatch report`,
`run` and `serve` find it, and is the listener that writes it when a job ends.
"""
