"""The system workflows: ``SLUG.json`` is revision 1 of each, ``SLUG.N.json`` revision N.

A revision, once released, never changes (installations hold it as a stored version): a change
to a system workflow is a new revision file, which start-up publishes as the next version.
"""
