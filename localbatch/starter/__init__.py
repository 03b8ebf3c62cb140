"""`localbatch init`: a small job that runs as it is, to start from (scaffold.py).

worker/ and input/ hold the files it writes: the workers' source and the sample input.
"""
