"""Router of the multipage app: `make run` (streamlit run streamlit_app.py)."""

import streamlit as st

st.set_page_config(page_title="Last.fm Recommender Explorer", layout="wide")
pages = [st.Page("pages/overview.py", title="Overview", default=True)]
st.navigation(pages).run()
