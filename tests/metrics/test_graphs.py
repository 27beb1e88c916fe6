"""PVE's RRD rows into a graph and a table: absent values stay absent, units are explicit."""

from metrics.graphs import NODE_CHARTS, VM_CHARTS, format_value, graph_from_rows, graph_table

MIB = 1024**2


def test_rows_become_series_with_gaps_where_pve_had_no_value():
    rows = [
        {"time": 120, "maxcpu": 2, "maxmem": 2048 * MIB, "maxdisk": 1, "disk": 0},  # stopped
        {"time": 60},  # before the VM existed: only time
        {"time": 180, "cpu": 0.25, "mem": 512 * MIB, "maxmem": 2048 * MIB, "netin": 1536.0},
    ]
    graph = graph_from_rows(rows, VM_CHARTS)
    assert graph["times"] == [60, 120, 180]
    assert graph["series"]["cpu"] == [None, None, 25.0]
    assert graph["series"]["mem"] == [None, None, 512.0]
    assert graph["series"]["maxmem"] == [None, 2048.0, 2048.0]
    assert graph["series"]["netin"] == [None, None, 1536.0]
    assert graph["series"]["diskwrite"] == [None, None, None]


def test_values_read_with_their_units():
    assert format_value(12.345, "%") == "12.3 %"
    assert format_value(2048.0, "MiB") == "2,048 MiB"
    assert format_value(512.0, "bytes/s") == "512 B/s"
    assert format_value(1536.0, "bytes/s") == "1.5 KiB/s"
    assert format_value(3 * MIB, "bytes/s") == "3.0 MiB/s"
    assert format_value(None, "%") == "—"


def test_the_table_keeps_the_newest_row_and_every_nth_before_it():
    rows = [{"time": t * 60, "loadavg": t, "cpu": 0.5} for t in range(60)]
    table = graph_table(graph_from_rows(rows, NODE_CHARTS), NODE_CHARTS, rows=24)
    assert table["every"] == 3
    assert len(table["rows"]) == 20
    assert table["rows"][-1][0].timestamp() == 59 * 60
    assert ("CPU", "CPU", "%") in table["columns"]
    assert "50.0 %" in table["rows"][-1][1]
