"""Human labels and judge calibration: how far the judge agrees with people on each rubric.

    labels            the labels file and the review CSV
    rejudge           labelled outputs re-graded by the current judge
    agreement         judge-versus-human figures (weighted kappa, Spearman, bias, length bias); pure
    calibration_file  the calibration file and the line the reports show
"""
