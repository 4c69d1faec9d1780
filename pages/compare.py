"""Compare users: why does model A beat model B for this user? Their lists side by side, hits and reasons."""

import streamlit as st

from app import charts, compare_view
from app.address import query_int
from app.state import no_runs_note, page_start, runs_of, runs_or_stop, splits, user_options
from app.text import literal, web_urls
from app.user_data import held_out_ranks, model_lists
from explorer import recommend

dataset = page_start("Compare users")
st.markdown(
    "**Why does model A beat model B for this user?** Pick a user (or start from *where the models disagree* at "
    "the bottom): each model's top list, its hits highlighted in green, and why it recommends each artist."
)
table = runs_or_stop(dataset)
year_splits = splits(dataset)
years = sorted(set(table["year"]) & set(year_splits))
if not years:
    no_runs_note("for the test years 2008–2010")

wanted_year, wanted_user = query_int("year"), query_int("user")
if wanted_year is not None and wanted_year not in years:
    st.warning(f"There are no cached runs for year {wanted_year}; showing {years[-1]} instead.")
    wanted_year = None
left, middle, right, last = st.columns([1, 3, 4, 2])
year = left.selectbox("Test year", years, index=years.index(wanted_year or years[-1]), key="compare_year")
split = year_splits[year]
options = user_options(dataset, split)
users = options["user"].tolist()
if wanted_user is not None and wanted_user not in users:
    if st.session_state.get("compare_shown") != (wanted_year, wanted_user):  # not just our own last choice
        st.warning(f"User {wanted_user} has no held-out artists in {year}; showing the first user instead.")
    wanted_user = None
labels = {
    row.user: f"user {row.user} · {row.train_artists} train / {row.test_artists} test artists"
    + (" · cold (no train rows)" if row.cold else "")
    for row in options.itertuples()
}
user = middle.selectbox(
    "Last.fm user (type to search)",
    users,
    index=users.index(wanted_user) if wanted_user else 0,
    format_func=labels.get,
    key=f"compare_user_{year}",
)
st.query_params.update({"year": str(year), "user": str(user)})
st.session_state["compare_shown"] = (year, user)

year_table = table[table["year"] == year]
chosen = runs_of(compare_view.pick_settings(year_table, "compare_setting"))
with right:
    focused = compare_view.focus([run.model for run in chosen], key="compare_focus")
top_n = last.slider("List length", 5, 50, 10, key="compare_top_n")

history = recommend.user_history(dataset, split, user)
held = recommend.held_out(dataset, split, user)
left, right = st.columns(2)
with left:
    st.subheader(f"History before {year}")
    if history.empty:
        st.info("A cold user: no interactions before the test year. Models that do not know them show popularity.")
    else:
        st.dataframe(
            history[["name", "url", "listens", "year"]].assign(url=web_urls(history["url"])),
            hide_index=True,
            key="history_table",
            alt="history",
            height=min(40 + 35 * len(history), 260),
            column_config={"url": st.column_config.LinkColumn("Last.fm", display_text="open")},
        )
    tags = recommend.user_top_tags(dataset, split, user)
    if not tags.empty:
        st.caption(
            literal(
                "Top tags before the test year: " + ", ".join(f"{t} ({n})" for t, n in tags.itertuples(index=False))
            )
        )
with right:
    st.subheader(f"Held out: tagged in {year}")
    st.dataframe(
        held[["name", "url", "date", "rankable"]].assign(url=web_urls(held["url"])),
        hide_index=True,
        key="held_out_table",
        alt="held out",
        height=min(40 + 35 * len(held), 260),
        column_config={
            "url": st.column_config.LinkColumn("Last.fm", display_text="open"),
            "rankable": st.column_config.CheckboxColumn("seen in train", help="only these can be ranked by any model"),
        },
    )

shown = [run for run in chosen if run.model in focused] if focused else chosen
st.subheader(f"Top {top_n} of each model")
st.caption(
    "Green rows are hits: artists the user really tagged in the test year. The artist's name opens Last.fm; hover "
    "a *because* header for what its numbers mean. Models that give the very same list are shown once."
)
lists = model_lists(dataset, split, shown, user, top_n)
if focused:
    compare_view.side_by_side(lists)
compare_view.show_lists(lists)

st.subheader("Rank of every held-out artist under every model")
compare_view.rank_table(held_out_ranks(held, split, shown, user))
st.caption(
    "Best-ranked first; empty where the artist was never seen in training (no model can rank it). Lower is better."
)

if len(lists) > 1:
    with st.expander("How much the lists overlap (this user)"):
        overlap = recommend.overlap({item.model: item.rows["artistID"].tolist() for item in lists})
        st.plotly_chart(charts.overlap(overlap), key="overlap_chart")
        st.caption("Jaccard overlap: shared artists / artists in either list.")

if len(chosen) > 1:
    st.subheader(f"Where the models disagree most in {year}: users where A hits and B misses")
    compare_view.disagreement(dataset, split, chosen, focused)
