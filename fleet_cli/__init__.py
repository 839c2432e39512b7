"""The `fleet` command and what only it needs: the offline engine that runs the Pulumi program
under recording mocks, the checks of a rendered stack, diff and the picture.

The Pulumi program never imports this package; it imports the domain (`fleet`) and the
components (`components`) only.
"""
