"""Unit models of the NdFeB recycling flowsheet (rexopt.flowsheets.ndfeb_recycling).

Each unit module has a rigorous ``simulate`` (mass and energy balance at one
operating point, data interpolated from rexopt/data/ndfeb) and a ``build_*``
function that adds its linear disjunctive Pyomo block to a plant model.
"""
