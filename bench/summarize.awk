# Summarises build/bench/raw.tsv (one row per run, written by bench/run.sh)
# into medians, ratios against glibc measured in the same run, tables on
# stdout, a TSV, and data files for gnuplot.
#
#   awk -f bench/summarize.awk -v mode=inram -v allocs="glibc jemalloc ..." \
#       -v out_tsv=F -v out_plot=F -v out_mem=F -v out_access=F raw.tsv
#   awk -f bench/summarize.awk -v mode=outofcore -v heap_mb=N -v limit_mb=N -v runs_in=N \
#       -v disk_w=MB/s -v disk_r=MB/s -v disk_rw=MB/s -v out_tsv=F -v out_plot=F raw.tsv
#   awk -f bench/summarize.awk -v mode=growth -v allocs="glibc fsmem ..." \
#       -v factors="0.25 0.5 ..." -v heaps="128 256 ..." -v limit_mb=N \
#       -v passes=N -v runs_in=N -v out_tsv=F -v out_plot=F raw.tsv
#
# A cell (workload, threads, allocator) is "ok" only if every run exited 0
# and printed the checksum that glibc printed (or, without glibc, the most
# common one). Otherwise it shows why: missing, SEGV/ABRT/... (signal),
# exit:N, timeout, killed (SIGKILL, the OOM killer), badsum. Failed cells
# are left out of geometric means, which say over how many rows they are.
BEGIN {
    FS = OFS = "\t"
    nA = split(allocs, A, " ")
}

NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
$1 != mode { next }

{
    wl = $col["workload"]; th = $col["threads"]; al = $col["alloc"]
    k = wl SUBSEP th SUBSEP al
    if (!((wl SUBSEP th) in seen_row)) { seen_row[wl SUBSEP th] = 1; rows[++nR] = wl SUBSEP th }
    if (mode == "outofcore" && !(al in seen_al)) { seen_al[al] = 1; A[++nA] = al }
    nruns[k]++
    st = $col["status"]
    if (st != "ok") {
        if (!(k in bad)) bad[k] = short(st)
        next
    }
    nok[k]++
    s = $col["checksum"]
    sums[k] = (k in sums && sums[k] != s) ? "mixed" : s
    cnt[wl SUBSEP th SUBSEP s]++
    if (cnt[wl SUBSEP th SUBSEP s] > best_n[wl SUBSEP th]) {
        best_n[wl SUBSEP th] = cnt[wl SUBSEP th SUBSEP s]; best[wl SUBSEP th] = s
    }
    split("wall rss_kb mem_kb foot_kb disk_kb majflt in_kb out_kb touch wpass rpass random random_us late_us free", M, " ")
    for (m in M) if ($col[M[m]] != "-" && $col[M[m]] != "") add(k SUBSEP M[m], $col[M[m]])
}

function short(st) {
    if (st == "signal:KILL") return "killed"
    if (st ~ /^signal:/) return substr(st, 8)
    return st
}

function add(key, v) { vals[key] = (key in vals) ? vals[key] " " v : v }

function median(key,    n, x, i, j, t) {
    if (!(key in vals)) return ""
    n = split(vals[key], x, " ")
    for (i = 2; i <= n; i++) { t = x[i] + 0; for (j = i - 1; j >= 1 && x[j] + 0 > t; j--) x[j + 1] = x[j]; x[j + 1] = t }
    return n % 2 ? x[(n + 1) / 2] + 0 : (x[n / 2] + x[n / 2 + 1]) / 2
}

# status of a cell after the checksum check
function cell(wl, th, al,    k, ref) {
    k = wl SUBSEP th SUBSEP al
    if (!(k in nruns)) return "not-run"
    if (k in bad) return bad[k]
    ref = (wl SUBSEP th SUBSEP "glibc") in sums && sums[wl SUBSEP th SUBSEP "glibc"] != "mixed" ?
          sums[wl SUBSEP th SUBSEP "glibc"] : best[wl SUBSEP th]
    if (sums[k] != ref) return "badsum"
    return "ok"
}

function ratio(a, b) { return (a != "" && b != "" && b + 0 > 0) ? a / b : "" }
function fmt(x, f) { return x == "" ? "-" : sprintf(f, x) }

# ---------------------------------------------------------------- in RAM
function inram_report(    r, wl, th, a, al, c, w, g, x, hdr, line, k, nf) {
    hdr = sprintf("%-16s %9s", "workload", "glibc s")
    for (a = 2; a <= nA; a++) hdr = hdr sprintf(" %10s", A[a])
    print ""
    print "In RAM: wall time, median of runs, as a ratio to glibc in the same run"
    print "(< 1 is faster than glibc; a word instead of a number: that allocator failed)"
    print hdr
    for (a = 2; a <= nA; a++) { gl_n[a] = 0; gl_s[a] = 0 }
    print "workload\tthreads\talloc\tstatus\truns_ok\truns\twall_s\twall_ratio\trss_kb\trss_ratio\tmem_kb\tmem_ratio\tfoot_kb\tdisk_kb\tmajflt\ttouch_s\twpass_s\trpass_s\trandom_us\tfree_s\tchecksum" > out_tsv
    printf "workload" > out_plot
    for (a = 2; a <= nA; a++) printf "\t%s", A[a] > out_plot
    printf "\n" > out_plot
    printf "workload" > out_mem
    for (a = 1; a <= nA; a++) printf "\t%s", A[a] > out_mem
    printf "\n" > out_mem
    nacc = 0
    for (r = 1; r <= nR; r++) {
        split(rows[r], x, SUBSEP); wl = x[1]; th = x[2]
        g = median(wl SUBSEP th SUBSEP "glibc" SUBSEP "wall")
        gr = median(wl SUBSEP th SUBSEP "glibc" SUBSEP "rss_kb")
        gok = cell(wl, th, "glibc") == "ok"
        for (a = 1; a <= nA; a++) {
            al = A[a]; k = wl SUBSEP th SUBSEP al; c = cell(wl, th, al)
            w = median(k SUBSEP "wall")
            wr = (c == "ok" && gok) ? ratio(w, g) : ""
            rss = median(k SUBSEP "rss_kb"); mem = median(k SUBSEP "mem_kb")
            print wl, th, al, c, nok[k] + 0, nruns[k] + 0, fmt(w, "%.4f"), fmt(wr, "%.4f"),
                  fmt(rss, "%d"), fmt(c == "ok" && gok ? ratio(rss, gr) : "", "%.3f"),
                  fmt(mem, "%d"), fmt(c == "ok" && gok ? ratio(mem, gr) : "", "%.3f"),
                  fmt(median(k SUBSEP "foot_kb"), "%d"), fmt(median(k SUBSEP "disk_kb"), "%d"),
                  fmt(median(k SUBSEP "majflt"), "%d"), fmt(median(k SUBSEP "touch"), "%.4f"),
                  fmt(median(k SUBSEP "wpass"), "%.4f"), fmt(median(k SUBSEP "rpass"), "%.4f"),
                  fmt(median(k SUBSEP "random_us"), "%.3f"), fmt(median(k SUBSEP "free"), "%.4f"),
                  (k in sums) ? sums[k] : "-" > out_tsv
            memr[a] = (c == "ok" && gok) ? ratio(mem, gr) : ""
            rssr[a] = (c == "ok" && gok) ? ratio(rss, gr) : ""
            cellw[a] = c == "ok" ? (a == 1 ? sprintf("%.3f", w) : (wr == "" ? "-" : sprintf("%.2f", wr))) : c
            plotv[a] = wr
        }
        if (wl == "access") { acc[++nacc] = wl SUBSEP th; continue }
        line = sprintf("%-16s %9s", wl " t=" th, cellw[1])
        for (a = 2; a <= nA; a++) {
            line = line sprintf(" %10s", cellw[a])
            if (plotv[a] != "") { gl_n[a]++; gl_s[a] += log(plotv[a]) }
        }
        print line
        nrow++
        printf "%s-%st", wl, th > out_plot
        for (a = 2; a <= nA; a++) printf "\t%s", plotv[a] == "" ? "-" : sprintf("%.4f", plotv[a]) > out_plot
        printf "\n" > out_plot
        printf "%s-%st", wl, th > out_mem
        for (a = 1; a <= nA; a++) printf "\t%s", memr[a] == "" ? "-" : sprintf("%.4f", memr[a]) > out_mem
        printf "\n" > out_mem
        memline[nrow] = sprintf("%-16s", wl " t=" th)
        for (a = 1; a <= nA; a++) {
            c = cell(wl, th, A[a])
            memline[nrow] = memline[nrow] sprintf(" %13s", c != "ok" ? c : rssr[a] == "" ? "-" :
                (memr[a] - rssr[a] > 0.005 ? sprintf("%.2f/%.2f", rssr[a], memr[a]) : sprintf("%.2f", rssr[a])))
        }
    }
    line = sprintf("%-16s %9s", "geomean", "1")
    printf "geomean" > out_plot
    for (a = 2; a <= nA; a++) {
        line = line sprintf(" %10s", gl_n[a] ? sprintf("%.2f", exp(gl_s[a] / gl_n[a])) : "-")
        printf "\t%s", gl_n[a] ? sprintf("%.4f", exp(gl_s[a] / gl_n[a])) : "-" > out_plot
    }
    printf "\n" > out_plot
    print line
    line = sprintf("%-16s %9s", "  (rows)", "")
    for (a = 2; a <= nA; a++) line = line sprintf(" %10s", gl_n[a] "/" nrow)
    print line

    print ""
    print "In RAM: peak memory as a ratio to glibc's peak RSS (median of runs)."
    print "One number: peak RSS. Two (a/b): peak RSS / peak RSS + backing-file disk blocks"
    print "(a resident file page is counted in both terms of b; foot_kb in inram.tsv counts it once)."
    hdr = sprintf("%-16s", "workload")
    for (a = 1; a <= nA; a++) hdr = hdr sprintf(" %13s", A[a])
    print hdr
    for (r = 1; r <= nrow; r++) print memline[r]

    if (nacc) access_report()

    nf = 0
    for (r = 1; r <= nR; r++) {
        split(rows[r], x, SUBSEP)
        for (a = 1; a <= nA; a++) {
            c = cell(x[1], x[2], A[a])
            if (c == "ok" || c == "missing" || c == "not-run") continue
            if (!nf++) { print ""; print "Failed cells (stderr of the last failing run: build/bench/last-failure-ALLOC-WORKLOAD.stderr):" }
            k = x[1] SUBSEP x[2] SUBSEP A[a]
            printf "  %-10s %-9s t=%s: %s (%d of %d runs ok)\n", A[a], x[1], x[2], c, nok[k], nruns[k]
        }
    }
}

function access_report(    i, x, wl, th, a, k, c, v, gv, line, m, label, hdr) {
    print ""
    print "In RAM, big heap (access): seconds for glibc, ratios for the others (median of runs)"
    print "  touch = first touch; wpass = one steady-state read-modify-write pass;"
    print "  rpass = one read-only pass; random = us per random page touch; free = freeing it all"
    hdr = sprintf("%-16s %9s", "phase", "glibc")
    for (a = 2; a <= nA; a++) hdr = hdr sprintf(" %10s", A[a])
    print hdr
    printf "phase" > out_access
    for (a = 1; a <= nA; a++) printf "\t%s", A[a] > out_access
    printf "\n" > out_access
    split("touch wpass rpass random_us free", P, " ")
    for (i = 1; i <= nacc; i++) {
        split(acc[i], x, SUBSEP); wl = x[1]; th = x[2]
        for (m = 1; m <= 5; m++) {
            label = P[m] " t=" th
            gv = median(wl SUBSEP th SUBSEP "glibc" SUBSEP P[m])
            line = sprintf("%-16s %9s", label, cell(wl, th, "glibc") == "ok" ? fmt(gv, P[m] == "random_us" ? "%.2fus" : "%.3f") : cell(wl, th, "glibc"))
            if (P[m] != "random_us") printf "%s-%st", P[m], th > out_access
            for (a = 1; a <= nA; a++) {
                k = wl SUBSEP th SUBSEP A[a]; c = cell(wl, th, A[a])
                v = median(k SUBSEP P[m])
                if (a > 1) line = line sprintf(" %10s", c != "ok" ? c : fmt(ratio(v, gv), "%.2f"))
                if (P[m] != "random_us") printf "\t%s", (c == "ok" && v != "") ? sprintf("%.5f", v) : "-" > out_access
            }
            if (P[m] != "random_us") printf "\n" > out_access
            print line
        }
    }
}

# ---------------------------------------------------------------- out of core
function outofcore_report(    a, al, k, c, w, sw, swr, swl, t, wp, rp, rnd, lt, mbf, mbw, mbr, pf, pw, pwr, pr, sk,
                              hdr, h, nf, i) {
    print ""
    printf "Out of core: heap %d MiB of 1 MiB blocks, memory cgroup limit %d MiB, 1 thread, %s\n", heap_mb, limit_mb,
           (runs_in + 0 > 1) ? ("median of " runs_in " runs") : "1 run"
    printf "Disk, direct I/O in this run: write %s MB/s, read %s MB/s, read and write at once %s MB/s each\n",
           disk_w, disk_r, disk_rw
    print "fill = first touch of the whole heap; wpass = read-modify-write pass; rpass = read-only"
    print "pass; MB/s = heap / time; % = that rate against the disk's direct write (fill), read and"
    print "write at once (wpass: every byte is read and written back) or read (rpass) bandwidth; w/r %"
    print "= wpass against the read alone; random = ms per random page touch, 2nd = the same over the"
    print "touches' second half (after any change of paging the passes' end brought); read/written ="
    print "GiB of block I/O; x swap, rnd x, 2nd x = how many times faster than Linux swap on the same"
    print "disk (> 1: faster)"
    printf "%-12s %7s %8s %7s %5s %7s %5s %5s %7s %5s %9s %6s %6s %6s %8s %7s %6s %6s\n", "method", "status",
           "total s", "fill s", "%", "wpass s", "%", "w/r %", "rpass s", "%", "random ms", "2nd ms", "read", "writ.",
           "majflt", "x swap", "rnd x", "2nd x"
    sk = "access" SUBSEP "1" SUBSEP "swap"
    sw = swr = swl = ""
    if (cell("access", 1, "swap") == "ok") {
        sw = median(sk SUBSEP "wall"); swr = median(sk SUBSEP "random_us"); swl = median(sk SUBSEP "late_us")
    }
    hdr = "method\tstatus\twall_s\tfill_s\tfill_MBps\tfill_pct_disk_write\twpass_s\twpass_MBps\twpass_pct_disk_readwrite\twpass_pct_disk_read\trpass_s\trpass_MBps\trpass_pct_disk_read\trandom_us\tlate_us\tfree_s\tmajflt\tread_kb\twritten_kb\trss_kb\tdisk_kb\tfoot_kb\tspeedup_vs_swap\trandom_speedup_vs_swap\tlate_speedup_vs_swap\tdisk_write_MBps\tdisk_read_MBps\tdisk_readwrite_MBps"
    print hdr > out_tsv
    nf = split(hdr, h, "\t")
    print "method\tfill\twrite pass\tread pass\trandom touches\tfree" > out_plot
    for (a = 1; a <= nA; a++) {
        al = A[a]; k = "access" SUBSEP "1" SUBSEP al; c = cell("access", 1, al)
        if (c != "ok") {
            printf "%-12s %7s\n", al, c
            printf "%s\t%s", al, c > out_tsv
            for (i = 3; i <= nf - 3; i++) printf "\t-" > out_tsv    # all but the disk's three
            printf "\t%s\t%s\t%s\n", disk_w, disk_r, disk_rw > out_tsv
            continue
        }
        w = median(k SUBSEP "wall"); t = median(k SUBSEP "touch")
        wp = median(k SUBSEP "wpass"); rp = median(k SUBSEP "rpass"); rnd = median(k SUBSEP "random_us")
        lt = median(k SUBSEP "late_us")
        mbf = t > 0 ? heap_mb * 1.048576 / t : ""
        mbw = wp > 0 ? heap_mb * 1.048576 / wp : ""
        mbr = rp > 0 ? heap_mb * 1.048576 / rp : ""
        pf = (mbf != "" && disk_w + 0 > 0) ? 100 * mbf / disk_w : ""
        pw = (mbw != "" && disk_rw + 0 > 0) ? 100 * mbw / disk_rw : ""
        pwr = (mbw != "" && disk_r + 0 > 0) ? 100 * mbw / disk_r : ""
        pr = (mbr != "" && disk_r + 0 > 0) ? 100 * mbr / disk_r : ""
        printf "%-12s %7s %8.2f %7.2f %5s %7.2f %5s %5s %7.2f %5s %9s %6s %6.1f %6.1f %8d %7s %6s %6s\n", al, c,
               w, t, fmt(pf, "%.0f"), wp, fmt(pw, "%.0f"), fmt(pwr, "%.0f"), rp, fmt(pr, "%.0f"),
               fmt(rnd == "" ? "" : rnd / 1000, "%.3f"),
               fmt(lt == "" ? "" : lt / 1000, "%.3f"), median(k SUBSEP "in_kb") / 1048576,
               median(k SUBSEP "out_kb") / 1048576, median(k SUBSEP "majflt"), fmt(ratio(sw, w), "%.2f"),
               fmt(ratio(swr, rnd), "%.2f"), fmt(ratio(swl, lt), "%.2f")
        print al, c, w, t, fmt(mbf, "%.1f"), fmt(pf, "%.1f"), wp, fmt(mbw, "%.1f"), fmt(pw, "%.1f"), fmt(pwr, "%.1f"),
              rp, fmt(mbr, "%.1f"), fmt(pr, "%.1f"), rnd, fmt(lt, "%.3f"), median(k SUBSEP "free"),
              median(k SUBSEP "majflt"),
              median(k SUBSEP "in_kb"), median(k SUBSEP "out_kb"), median(k SUBSEP "rss_kb"),
              median(k SUBSEP "disk_kb"), median(k SUBSEP "foot_kb"), fmt(ratio(sw, w), "%.3f"),
              fmt(ratio(swr, rnd), "%.3f"), fmt(ratio(swl, lt), "%.3f"), disk_w, disk_r, disk_rw > out_tsv
        print al, t, wp, rp, median(k SUBSEP "random"), median(k SUBSEP "free") > out_plot
    }
}

# ---------------------------------------------------------------- growth
# Rows of raw.tsv: workload "access-HEAPMIB", one per heap (factors and heaps
# in the same order, smallest first).
function growth_report(    nF, F, H, i, a, al, wl, k, c, gk, base, tbase, wp, rp, w, st, spg, tpg, sl, tsl,
                           hdr, l1, rd, wr, pv, t_slow, t_spg, t_wall, t_io) {
    nF = split(factors, F, " "); split(heaps, H, " ")
    gk = "access-" H[1] SUBSEP "1" SUBSEP "glibc"
    if (cell("access-" H[1], 1, "glibc") == "ok") {
        base = (median(gk SUBSEP "wpass") + median(gk SUBSEP "rpass")) * 1024 / H[1]
        tbase = median(gk SUBSEP "wall") * 1024 / H[1]
    }
    print ""
    printf "Growth: heap %sx to %sx a memory cgroup limit of %d MiB (1 MiB blocks), 1 thread\n", F[1], F[nF], limit_mb
    printf "access: fill, %d read-modify-write passes (median), 1 read pass; %d run(s) up to 1x (median), 1 above\n", passes, runs_in
    print "steady = one write pass + the read pass, seconds per GiB of heap (the time a program"
    print "spends on memory it already has); slowdown = steady over glibc's at the smallest heap"
    if (base != "")
        printf "(%sx, %d MiB: %.4f s/GiB) in this run; total = wall time, fill and start-up included\n", F[1], H[1], base
    else
        printf "(%sx: glibc %s there, so no ratios); total = wall time, fill and start-up included\n", F[1], cell("access-" H[1], 1, "glibc")
    print "A word instead of a number: the run failed (killed = SIGKILL, the OOM killer; timeout;"
    print "skipped = not run, e.g. timed out at a smaller heap; missing = not built or not found)"
    hdr = sprintf("%-11s", "method")
    for (i = 1; i <= nF; i++) hdr = hdr sprintf(" %9s", F[i] "x")
    l1 = sprintf("%-11s", "heap MiB")
    for (i = 1; i <= nF; i++) l1 = l1 sprintf(" %9d", H[i])
    print "method\tfactor\theap_mb\tlimit_mb\tstatus\truns_ok\truns\twall_s\tfill_s\twpass_s\trpass_s\tsteady_s\tsteady_s_per_gib\tslowdown\twall_s_per_gib\twall_slowdown\tfree_s\trss_kb\tdisk_kb\tfoot_kb\tmajflt\tread_kb\twritten_kb\tchecksum" > out_tsv
    for (a = 1; a <= nA; a++) {
        al = A[a]
        t_slow[a] = t_spg[a] = t_wall[a] = t_io[a] = sprintf("%-11s", al)
        for (i = 1; i <= nF; i++) {
            wl = "access-" H[i]; k = wl SUBSEP "1" SUBSEP al; c = cell(wl, 1, al)
            wp = median(k SUBSEP "wpass"); rp = median(k SUBSEP "rpass"); w = median(k SUBSEP "wall")
            st = spg = tpg = sl = tsl = ""
            if (c == "ok" && wp != "" && rp != "") {
                st = wp + rp; spg = st * 1024 / H[i]; tpg = w * 1024 / H[i]
                sl = ratio(spg, base); tsl = ratio(tpg, tbase)
            }
            rd = median(k SUBSEP "in_kb"); wr = median(k SUBSEP "out_kb")
            print al, F[i], H[i], limit_mb, c, nok[k] + 0, nruns[k] + 0, fmt(c == "ok" ? w : "", "%.4f"),
                  fmt(c == "ok" ? median(k SUBSEP "touch") : "", "%.4f"), fmt(c == "ok" ? wp : "", "%.4f"),
                  fmt(c == "ok" ? rp : "", "%.4f"), fmt(st, "%.4f"), fmt(spg, "%.4f"), fmt(sl, "%.3f"),
                  fmt(tpg, "%.4f"), fmt(tsl, "%.3f"), fmt(c == "ok" ? median(k SUBSEP "free") : "", "%.4f"),
                  fmt(median(k SUBSEP "rss_kb"), "%d"), fmt(median(k SUBSEP "disk_kb"), "%d"),
                  fmt(median(k SUBSEP "foot_kb"), "%d"), fmt(median(k SUBSEP "majflt"), "%d"),
                  fmt(rd, "%d"), fmt(wr, "%d"), (k in sums) ? sums[k] : "-" > out_tsv
            t_slow[a] = t_slow[a] sprintf(" %9s", c != "ok" ? c : fmt(sl, "%.2f"))
            t_spg[a] = t_spg[a] sprintf(" %9s", c != "ok" ? c : fmt(spg, "%.3f"))
            t_wall[a] = t_wall[a] sprintf(" %9s", c != "ok" ? c : fmt(w, "%.2f"))
            t_io[a] = t_io[a] sprintf(" %9s", c != "ok" ? c : (rd == "" || wr == "") ? "-" :
                                      sprintf("%.1f/%.1f", rd * 1024 / H[i] / 1048576, wr * 1024 / H[i] / 1048576))
            pv[a SUBSEP i] = sl
        }
    }
    # Without a baseline there is no curve: no plot file, so no empty chart.
    if (base != "") {
        printf "factor" > out_plot
        for (a = 1; a <= nA; a++) printf "\t%s", A[a] > out_plot
        printf "\n" > out_plot
        for (i = 1; i <= nF; i++) {
            printf "%s", F[i] > out_plot
            for (a = 1; a <= nA; a++) printf "\t%s", pv[a SUBSEP i] == "" ? "-" : sprintf("%.4f", pv[a SUBSEP i]) > out_plot
            printf "\n" > out_plot
        }
    }
    print ""
    print "Slowdown: steady state per GiB / glibc's at the smallest heap (1 = glibc in RAM; lower is better)"
    print hdr; print l1
    for (a = 1; a <= nA; a++) print t_slow[a]
    print ""
    print "Steady state, seconds per GiB of heap"
    print hdr
    for (a = 1; a <= nA; a++) print t_spg[a]
    print ""
    print "Total wall time, seconds"
    print hdr
    for (a = 1; a <= nA; a++) print t_wall[a]
    print ""
    print "Block I/O per GiB of heap: GiB read (readahead and swap-ins included) / GiB of file"
    print "pages dirtied (Linux counts a write when a page is dirtied; swap-outs are not counted)"
    print hdr
    for (a = 1; a <= nA; a++) print t_io[a]
}

END {
    if (mode == "inram") inram_report()
    else if (mode == "growth") growth_report()
    else outofcore_report()
}
