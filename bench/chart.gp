# Throughput of each setup relative to the worker alone, per workload (bench/run.sh).
#   gnuplot -e "data='chart.dat'; output='chart.png'" bench/chart.gp
set terminal pngcairo size 900,480 font ",11"
set output output
set title "The same hello-worker, alone and behind each front (2 cores, loopback)"
set ylabel "throughput relative to direct"
set yrange [0:*]
set grid ytics
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key top right
plot data using 2:xtic(1) title "direct", \
     "" using 3 title "vhostd", \
     "" using 4 title "nginx", \
     "" using 5 title "haproxy"
