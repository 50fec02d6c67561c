"""A hand-made truth file and Taxometer results file (six contigs), shared by
test_benchmarks_metrics.py and test_calibration.py, whose expected counts are worked out
in those tests."""

UP = "d_B;p_P;c_C;o_O;f_F"
TRUTH = f"""contig\tgenome_id\tlength\treference_status\tlineage
c1\tg1\t2500\tin_reference\t{UP};g_A;s_A x
c2\tg1\t4000\tin_reference\t{UP};g_A;s_A x
c3\tg2\t12000\tnovel_strain\t{UP};g_A;s_A y
c4\tg3\t1200\tspecies_held_out\t{UP};g_B;s_B z
c5\tg3\t6000\tspecies_held_out\t{UP};g_B;s_B z
c6\tg2\t3000\tnovel_strain\t{UP};g_A;s_A y
"""
# Taxometer results; scores per rank d;p;c;o;f;g;s
RESULTS = f"""contigs\tpredictions\tscores
c1\t{UP};g_A;s_A x\t1;1;1;1;1;0.99;0.9
c2\t{UP};g_A;s_A y\t1;1;1;1;1;0.97;0.6
c3\t{UP};g_A\t1;1;1;1;1;0.85
c4\t{UP};g_A;s_A x\t1;1;1;1;0.7;0.99;0.99
c5\t\t
c6\t{UP};g_A;s_A y\t1;1;1;1;1;1.0;0.96
"""
