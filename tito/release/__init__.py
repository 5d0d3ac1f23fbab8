"""Learner templates from reference solutions, as a pipeline of small transforms.

`hidden` drops hidden-test blocks, `stubs` turns solution regions into stubs,
`clean` builds a deterministic notebook, and `build` runs them for a course.
"""
