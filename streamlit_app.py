"""Router of the multipage app: `make run` (streamlit run streamlit_app.py)."""

import streamlit as st

st.set_page_config(page_title="Last.fm Recommender Explorer", page_icon=":material/headphones:", layout="wide")
pages = [
    st.Page("pages/overview.py", title="Overview", icon=":material/home:", default=True),
    st.Page("pages/train.py", title="Train", icon=":material/fitness_center:"),
    st.Page("pages/metrics.py", title="Metrics", icon=":material/bar_chart:"),
    st.Page("pages/compare.py", title="Compare users", icon=":material/group:"),
    st.Page("pages/embeddings.py", title="Embeddings", icon=":material/scatter_plot:"),
]
page = st.navigation(pages)
with st.sidebar:
    st.caption(
        "Forward chaining on Last.fm hetrec2011-lastfm-2k: train on years before Y, test on year Y "
        "(2008, 2009, 2010). Every trained run is cached."
    )
page.run()
