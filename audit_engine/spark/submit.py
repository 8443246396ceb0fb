"""Entry point for ``spark-submit``: the census-audit CLI inside a submitted Spark application.

    spark-submit --master yarn --deploy-mode client \\
        --archives census-audit-env.tar.gz#env --conf spark.pyspark.python=./env/bin/python \\
        "$(python -c 'import audit_engine.spark.submit as s; print(s.__file__)')" \\
        --operator sup.wang --db postgresql://… check --engine spark --lake /shared/lake

The arguments after the script are the CLI's own. :func:`audit_engine.spark.session.spark_session`
sees the submitted master and keeps it (and the memory settings) unless ``--spark-master`` is
given. See docs/scale.md.
"""

from audit_engine.cli.main import main

if __name__ == "__main__":
    main()
