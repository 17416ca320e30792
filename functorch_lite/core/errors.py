"""Error types users see. Their messages say what went wrong and what to do instead."""


class ConcretizationTypeError(TypeError):
    """A Python operation needed a concrete value but got an abstract (traced) one."""


class TracerBoolConversionError(ConcretizationTypeError):
    pass


class TracerIntegerConversionError(ConcretizationTypeError):
    pass


class TracerArrayConversionError(ConcretizationTypeError):
    """A traced value was converted to a NumPy array (``np.asarray(tracer)``)."""


class UnexpectedTracerError(Exception):
    """A tracer escaped the transformation that created it and was used later."""

