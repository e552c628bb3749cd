"""Data tables for ``synthetic.people``: Western names, name variants, Australian streets and places.

Plain strings and tuples only (no sets: iteration order must not depend on the hash seed). Lists of words are
whitespace-separated; ``_`` stands for a space inside one name (``De_Silva``). Order is meaning: names are listed
most common first, and the generator turns rank into frequency.
"""

from __future__ import annotations

from typing import Final

# fmt: off

# --------------------------------------------------------------------------------------------------------
# Surnames
# --------------------------------------------------------------------------------------------------------

#: The head of the Australian surname distribution, roughly in rank order (Smith ≈ 0.9% of people).
SURNAMES_TOP: Final[str] = """
Smith Jones Williams Brown Wilson Taylor Johnson White Martin Anderson Thompson Nguyen Thomas Walker Harris Lee
Ryan Robinson Kelly King Davis Wright Evans Roberts Green Hall Wood Jackson Clarke Patel Lewis James Phillips
Mitchell Turner Scott Hill Young Moore Campbell Murphy Edwards Allen Hughes Stewart Clark Baker Cooper Morris Wang
Mason Chen Cook Harrison Ward Bell Collins Singh Bailey Morgan Watson Murray Kennedy Hunt Graham Carter Reid
Marshall Miller Gray Stevens Adams Parker Fraser Walsh Ellis Robertson Palmer Shaw Cox Richardson Lloyd Ross
Simpson Davies Johnston Price Zhang Butler Hayes Russell Bennett Wallace Dixon Mills Knight Sullivan Tran Li Liu
Pham Le Byrne Hamilton Gibson Holmes Griffiths Rogers Barnes Chapman Fisher Henderson Jenkins Webb Burns Hunter
Matthews Pearce Foster Ferguson Kaur Khan Ali Nelson McDonald Black Armstrong Morrison Lane Doyle Brennan O'Brien
O'Connor Gallagher Quinn Daly Dunn Duncan Grant Hart Harvey Hudson Howard Lawrence Lynch Maxwell Moran Murdoch
Nolan Pearson Powell Rees Riley Rose Saunders Sharp Sims Spencer Stone Sutton Wade Watts Welsh Wells West Whelan
Whittaker Wong Yang Huang Lim Tan Chan
"""

#: The Anglo-Celtic body of the distribution (ranks about 180 to 700 once interleaved).
SURNAMES_ANGLO: Final[str] = """
Abbott Adamson Ahern Aitken Alexander Allan Ames Andrews Appleby Archer Arnold Ashby Ashton Atkins Atkinson Austin
Avery Bain Baird Baldwin Ball Banks Barber Barker Barlow Barr Barrett Barry Bartlett Barton Bates Baxter Beattie
Beck Begg Bentley Berry Best Bird Bishop Blackburn Blair Blake Bolton Bond Booth Boswell Bourke Bowden Bowen Bowman
Boyd Boyle Bradley Bradshaw Brady Bray Brooks Brookes Bruce Bryant Buchanan Buckley Bull Bullock Burgess Burke
Burrows Burton Bush Byrnes Cahill Cairns Caldwell Callaghan Cameron Carey Carr Carroll Carson Cartwright Casey
Cassidy Chalmers Chambers Chandler Chaplin Charlton Christie Clancy Clayton Clements Coates Cochrane Cole Coleman
Collier Connell Connolly Conway Corbett Costello Cotter Coulter Cowan Craig Crawford Crook Cross Crowley Cullen
Cummings Cunningham Curran Curtis Dalton Daniel Daniels Darcy Davey Davidson Dawson Day Dean Delaney Dempsey Denham
Dennis Devlin Dickens Dickson Dillon Dobson Dodd Doherty Donaldson Donnelly Donovan Dougherty Douglas Dowling Downey
Drake Driscoll Duffy Dunne Dwyer Dyer Eastwood Eaton Egan Elliott Emery English Fairbairn Farmer Farrell Faulkner
Fenton Field Finch Finlay Finn Fitzgerald Fitzpatrick Fleming Fletcher Flood Flynn Foley Forbes Ford Forrest
Forster Fowler Fox Francis Franklin Freeman French Frost Fry Fuller Galloway Gardiner Gardner Garner Gates Geary
George Gibbons Gibbs Gilbert Giles Gillespie Gilmore Gleeson Glover Goddard Godfrey Golding Goodwin Gordon Gough
Gould Grainger Graves Greenwood Gregory Griffin Griffith Grimes Guthrie Hale Haley Hammond Hancock Hanley Hanna
Hansen Hanson Harding Hardy Hargreaves Harper Harrington Hartley Hawkins Hay Hayden Hayward Healy Heath Hennessy
Hewitt Hickey Higgins Hinds Hobbs Hodge Hodges Hodgson Hogan Holden Holland Holloway Holt Hooper Hope Hopkins Horne
Horton Howe Howell Hoyle Hubbard Humphries Hurley Hutchinson Hutton Hyde Ingram Ireland Irvine Irving Jacobs
Jameson Jarvis Jeffery Jennings Johns Joyce Judd Kane Kavanagh Kay Keane Kearney Keating Keegan Keller Kemp Kendall
Kenny Kent Keogh Kerr Kidd Kilpatrick Kirby Kirk Knowles Knox Lamb Lambert Lamont Langley Larkin Lawson Leach Leahy
Leonard Leslie Lindsay Little Livingstone Logan Long Lord Lowe Lucas Lyons Mackay Mackenzie Maclean Macleod
Macdonald Madden Maguire Maher Mahoney Malone Maloney Mann Manning Marsh Massey Matheson Mathews May Maynard
McAllister McBride McCabe McCann McCarthy McCormack McCulloch McDermott McDougall McFarlane McGee McGill McGrath
McGregor McGuire McInnes McIntosh McIntyre McKay McKenna McKenzie McKinnon McLaren McLaughlin McLean McLeod
McMahon McManus McNamara McNeil McPherson McRae Meade Meehan Mellor Mercer Merritt Middleton Miles Millar Milne
Moffat Molloy Monaghan Montgomery Moody Mooney Morley Morrow Moss Muir Mullins Munro Nash Naylor Neal Neville
Newman Newton Nicholls Nicholson Nixon Noble Norman Norris Norton O'Donnell O'Keefe O'Leary O'Neill O'Reilly O'Shea
O'Sullivan O'Toole O'Callaghan O'Dwyer O'Mahony Oakley Oliver Osborne Owen Owens Page Parsons Paterson Patterson
Payne Peacock Perkins Perry Peters Pike Pollard Poole Porter Potter Pratt Preston Prince Pritchard Pryor Quinlan
Rae Ramsay Randall Rankin Rawlings Ray Read Reeves Reilly Reynolds Rhodes Rice Richards Richmond Ritchie Robson
Roche Rowe Rowley Rutherford Ryder Salter Sanders Sanderson Savage Sawyer Schofield Scully Seymour Shannon Sharpe
Shepherd Sheppard Sheridan Short Simmons Sinclair Skinner Slater Sloan Small Smart Snell Sparkes Stanley Steele
Stephens Stephenson Stevenson Stokes Strong Stuart Summers Sutherland Swan Sweeney Symonds Talbot Tanner Tate
Teague Thomson Thornton Tierney Tobin Todd Tomlinson Townsend Tucker Tully Tyler Underwood Vaughan Vickers Waddell
Wakefield Walters Walton Warner Warren Waters Watt Weaver Webster Weir Wheeler Whitaker Whitehead Whyte Wilkins
Wilkinson Williamson Willis Wills Winter Wise Woods Woodward Woolley Wren Wyatt Yates Lovell Pickering Radford
Ashworth Blackwell Brewer Chadwick Cheshire Crane Dale Dent Earl Eldridge Fielding Fitch Gale Greig Haines Hurst
Jolly Kimber Lister Marriott Medlin Nowell Pitt Quigley Rigby Royle Sadler Shields Stubbs Tait Thorpe Upton Varley
Wardle Whitfield Wiley Yeo Bolger Coughlan Dorman Fahey Grogan Hegarty Hickson Lennon Magee Mulcahy Nugent Phelan
Rafferty Regan Shanahan Tansey
"""

#: Surnames of Australia's many migrant communities (interleaved with the Anglo body).
SURNAMES_MIGRANT: Final[str] = """
Rossi Russo Romano Colombo Ricci Marino Greco Bruno Gallo Conti De_Luca Costa Giordano Mancini Rizzo Lombardi
Moretti Barbieri Fontana Santoro Mariani Rinaldi Caruso Ferrari Esposito Bianchi Romeo Ferraro Vitale Lombardo
Testa Pellegrino Serra Sartori Palumbo Leone Longo D'Angelo Marchetti Amato Messina Papadopoulos Georgiou
Nikolaidis Papas Dimitriou Konstantinidis Christodoulou Ioannou Vlahos Karagiannis Pappas Alexiou Economou Kyriakou
Muller Schmidt Schneider Fischer Weber Wagner Becker Schulz Hoffmann Koch Richter Klein Wolf Neumann Schwarz Braun
Zimmermann Hartmann Krause Werner Lange Vos De_Jong Jansen De_Vries Van_Dijk Bakker Visser Smit Meijer De_Boer
Mulder Vermeulen Van_der_Berg Janssen Peeters Nielsen Jensen Pedersen Larsen Andersen Christensen Olsen Johansson
Eriksson Lindqvist Berg Dahl Lund Kowalski Nowak Wisniewski Wojcik Kowalczyk Kaminski Lewandowski Zielinski
Szymanski Kozlowski Jankowski Novak Horvat Petrovic Jovanovic Nikolic Markovic Popovic Ivanov Petrov Kovac Babic
Kovacevic Maric Juric Knezevic Vukovic Peric Djordjevic Stojanovic Ilic Stojanovski Petrovski Nikolovski
Trajkovski Haddad Khoury Nasser Saleh Hassan Ahmed Mohamed Ibrahim Abdallah Mansour Karam Assaf Habib Khalil
Youssef Huynh Hoang Phan Vu Vo Dang Bui Do Ho Ngo Duong Ly Truong Dinh Luong Lam Mai Trinh Cao Ta Zhao Wu Zhou Xu
Sun Ma Zhu Hu Guo He Lin Luo Gao Liang Zheng Xie Tang Han Deng Feng Zeng Peng Cheung Leung Ng Yip Ong Goh Teo
Chong Chow Lau Kwan Tse Fung Yu Sharma Kumar Shah Gupta Reddy Rao Iyer Nair Menon Pillai Das Joshi Mehta Chopra
Malhotra Kapoor Verma Agarwal Bhatt Desai Jain Pandey Mishra Chaudhary Gill Sandhu Dhillon Sidhu Grewal Fernando
Perera Silva De_Silva Jayasinghe Santos Reyes Cruz Garcia Bautista Ocampo Mendoza Torres Flores Ramos Aquino
Castillo Rivera Gonzales Lopez Martinez Rodriguez Hernandez Perez Sanchez Ramirez Gomez Diaz Morales Ortiz
Gutierrez Chavez Ruiz Alvarez Castro Romero Kim Park Choi Jung Kang Cho Yoon Jang Sato Suzuki Takahashi Tanaka
Watanabe Ito Yamamoto Nakamura Borg Camilleri Vella Farrugia Galea Zammit Grech Attard Micallef Spiteri Azzopardi
Caruana Cassar Debono Yilmaz Kaya Demir Sahin Celik Yildiz Ozturk Aydin Pereira Ferreira Oliveira Rodrigues
Fernandes Goncalves Almeida Sousa
"""

#: Long-tail surnames are composed from these parts (first part + ending), one style per tuple.
TAIL_STYLES: Final[tuple[tuple[str, str], ...]] = (
    (  # English place-name surnames: Ashworth, Bramley, Thornbury
        "Ab Ack Ald Alder Ash Ather Ayl Bar Bark Barn Beck Bed Bel Bent Black Blen Bol Bram Brad Bran Brent Brid "
        "Brom Brook Bur Butter Cal Cam Car Chad Chal Chat Chel Chester Clay Cliff Cold Cole Cot Crab Cran Crom Cul "
        "Dal Dar Den Dew Dor Dray Dun Eas Eld Ever Fair Far Fen Fern Foss Fox Gar Gil Glad Gold Gran Green Grim Hal "
        "Ham Har Has Hat Haw Hay Hazel Heb Hem Hol Hor Hun Ingle Kel Ken Kings Kirk Lang Lath Lea Lin Lock Lud Mal "
        "Mar Mel Mid Mor Nether New Nor Oak Ock Old Ot Pad Pem Pen Pick Pol Pres Rad Rain Ram Raw Red Rid Ros Rud "
        "Rush Sal Sand Scar Shel Shep Sher Ship Stan Stock Stow Sum Swin Tad Thorn Thurs Tid Tre Up Wad Wal War Wat "
        "Wed Wel West Whit Wick Wil Win Wood Wor Wy Yat",
        "bourne bridge brook bury by cliffe combe cote croft dale den don field ford gate ham hampton hurst ington "
        "land ley low mer more ridge shaw stead ston stone thorpe ton well wick wood worth ing ey all",
    ),
    (  # Italian: Castellini, Marchetto
        "Bell Bianc Bon Bors Bru Cal Cap Carb Cas Castell Cerr Ciamp Col Cost Cris Dell Fal Farr Ferr Fior Frances "
        "Gall Garg Giacom Giann Grass Gual Lamb Lenz Lomb Lor Lucch Magg Mal Manc Marc Mart Mazz Mell Mont Mor Nard "
        "Negr Pac Pag Pal Pasqu Pell Ricc Rin Ross Sal Sant Sart Serr Spin Tass Tom Tost Vent Vill Zan Zucc",
        "etti ini ello elli ato ati ucci one ino ano esi acci otti uzzi ari",
    ),
    (  # Greek: Stavropoulos, Kostakis
        "Alex Anast Andr Ang Christ Dimitr Georg Kal Karam Kon Kost Kyr Lamb Liak Mark Mich Nik Pan Papad Pap Pet "
        "Saker Spyr Stath Stav Theod Vasil Xen Yann Zach",
        "opoulos idis akis ou as iou atos eas oglou",
    ),
    (  # Central and Eastern European: Grabowski, Pavlovic
        "Kowal Nowak Wisn Woj Kamin Lewand Ziel Szyman Kozl Jank Maz Krawc Piotr Grab Pawl Mich Zaj Krol Wiecz Jab "
        "Majew Olsz Jaw Malin Stan Pav Rad Mil Dragan Bog",
        "ski wicz czyk ak ic ovic enko ov in ek",
    ),
    (  # German: Rosenfeld, Lindhardt
        "Acker Bauer Berg Brand Eich Feld Frei Gross Hart Heil Hoch Horn Kessel Kirch Klein Kohl Lang Lind Mittel "
        "Neu Ober Reich Rosen Schoen Stein Stroh Wald Weiss Winter Wolf Zimmer",
        "mann berg stein feld hof er inger holz bach hardt meier bauer",
    ),
)

#: Groups of surnames that are spelled, heard or transcribed as one another (a record may carry any of them).
SURNAME_VARIANTS: Final[str] = """
Smith Smyth Smythe
Thomson Thompson Tomson
Macdonald MacDonald McDonald
Mackenzie McKenzie MacKenzie
Mackay McKay MacKay
Macleod McLeod MacLeod
McIntosh Mcintosh Mackintosh
McGregor MacGregor
McPherson MacPherson
McLean Maclean MacLean
McKinnon MacKinnon
McDougall MacDougall
McNeil McNeill MacNeil
Reid Reed Read Reade
Gray Grey
Stewart Stuart Steward
Phillips Philips Phillipps
Matthews Mathews Mathew
Clark Clarke Clerk
Brown Browne
Green Greene
Cook Cooke
Johnston Johnstone Johnson
Anderson Andersen
Peterson Petersen Pedersen
Nielsen Nielson Neilson
Hansen Hanson
Jensen Jenson
Meyer Meier Mayer Myer
Schmidt Schmitt Schmid
Fischer Fisher
Muller Mueller Müller
Byrne Byrnes Burne
Kelly Kelley
Davis Davies
Jeffery Jeffrey Jeffries
Allan Allen Alan
Moore More Muir
Carr Kerr
Bailey Bayley Baillie
Walsh Welsh Welch
Nguyen Ngyuen Nguyên
Lee Leigh Li
Hughes Hewes
Philp Philip
Stephens Stevens
Hanna Hannah
Gallagher Gallacher
Callaghan O'Callaghan
Connor O'Connor Conner
O'Neill O'Neil
Donnell O'Donnell
Reilly O'Reilly Riley
De_Silva DeSilva Da_Silva
De_Luca DeLuca Di_Luca
Van_der_Berg Van_den_Berg Vandenberg
De_Jong De_Jongh Dejong
Haddad Hadad
Khoury Khouri Khuri
Mohamed Mohammed Muhammad
Pappas Papas
Vlahos Vlachos
Stojanovski Stojanovsky
Kowalski Kovalski
Wisniewski Wisnewski
Petrovic Petrović
Jovanovic Jovanović
Christensen Christenson
Tran Trần
Pham Phạm
Chan Chen
Wong Wang
Catherall Catterall
Sheppard Shepherd Shepard
Mellor Meller
Griffiths Griffith
Jenkins Jenkin
Williams Williamson
"""

# --------------------------------------------------------------------------------------------------------
# Given names, by sex and by the generation they were popular with (most popular first within each list)
# --------------------------------------------------------------------------------------------------------

#: Male names given in every generation.
MALE_CLASSIC: Final[str] = """
John David Michael Peter James Robert Paul Andrew Mark Richard Stephen Christopher Anthony Matthew Daniel William
Thomas Joseph Timothy Simon Benjamin Samuel Nicholas Jonathan Alexander Patrick Edward Charles George Henry Philip
Martin Adam Luke Steven Scott Ryan Nathan Jack Harry Leo Max Oliver Lewis Hugh Francis Vincent Dominic Christian
Marcus Julian Sebastian Oscar Louis Arthur Frank Alan Neil Ian Colin Stuart Graham Malcolm Roger Tony Carl Eric
Victor Hamish Angus Duncan Alistair Fergus Rory Liam Sean Kevin Brian Gerard Bernard Joel Aaron Jacob Jeremy
Nathaniel Rhys Owen Evan Gareth Glen Lachlan Callum Cameron Jordan Jamie Adrian Damian Justin Jason Dean Mohammed
Ali Omar Ahmad Jesse Levi Isaac Elijah Gabriel Noah Raphael Ivan Stefan Nikolas Anton Felix Hugo Jasper Jarrah
Murray Ross Grant Bruce Keith Ralph Warwick Clive Lindsay Barry Trevor Wayne Allan Allen Phillip Geoffrey Jeffrey
Gregory Derek Rodney Terence Lawrence Laurence Kenneth Donald Ronald Raymond Douglas Leonard Gerald Stanley Dennis
"""

#: Male names of men born before about 1955.
MALE_OLD: Final[str] = """
John Robert William James Kenneth Raymond Ronald Donald Peter Keith Brian Graham Allan Colin Norman Harold Leslie
Albert Arthur Ernest Frederick Herbert Walter Alfred Reginald Clarence Cecil Roy Gordon Douglas Leonard Frank
Francis Gerald Bernard Maurice Eric Neville Lindsay Barry Ian Trevor Bruce Geoffrey Malcolm Kevin Terence Dennis
Russell Lawrence Lloyd Vernon Wallace Wilfred Victor Percy Horace Edgar Harvey Howard Lionel Desmond Dudley
Gilbert Hector Hubert Mervyn Max Murray Neil Noel Owen Ralph Rex Rodney Roger Rupert Sidney Stewart Sydney Warwick
Clive Basil Cyril Edwin Stanley Laurence Alan Lance Garry Gary Jack Thomas Charles George Henry Edward Joseph
Giuseppe Giovanni Antonio Salvatore Francesco Luigi Vincenzo Domenico Mario Angelo Carmelo Nikolaos Georgios
Konstantinos Dimitrios Ioannis Vasilios Panagiotis Stavros Hans Klaus Dieter Johannes Pieter Willem Jozef
Stanislaw Zoran Dragan Milan Ante Tadeusz Bogdan Aldo Bruno Carlo Enzo Sergio Vittorio Spiros Christos Kostas
Manfred Gunter Horst Rolf Wolfgang Heinz Joe Bill Jim Ted Les Ray Ron Don Ken Reg Wal Alf Bert Fred Jock Clem
Merv Wally Stan Norm Kev
"""

#: Male names of men born between about 1955 and 1980.
MALE_MID: Final[str] = """
David Michael Peter Andrew Mark Paul Stephen Craig Darren Shane Glenn Wayne Troy Brett Dean Jason Grant Gavin
Todd Rodney Gary Greg Gregory Dale Stuart Warren Scott Brendan Damien Darryl Glen Kym Lee Jeffrey Jeff Tony
Murray Rohan Marcus Nigel Jamie Justin Anthony Adrian Aaron Bradley Cameron Clinton Corey Dion Duncan Heath Jarrod
Jeremy Kane Kris Leigh Luke Mitchell Nathan Nicholas Rhys Sean Shaun Travis Trent Wade Kieran Jonathon Phillip
Derek Roland Alistair Angus Hamish Matthew Christopher Richard Robert John Simon Timothy Steven Brad Brent Chad
Damon Daryl Dwayne Garth Gerard Guy Jody Joel Karl Kelvin Kerry Lyndon Marc Martyn Neale Rod Ross Russell Ryan
Shannon Stewart Tim Vaughan Wesley Minh Tuan Hung Dung Thanh Hai Long Quang Duc Nam Wei Jun Ming Jian Lei Hao Bin
Tao Rajesh Sanjay Suresh Ramesh Vijay Anil Sunil Ashok Arun Deepak Manoj Rakesh Vikram Amit Mohammed Ahmad Ali
Omar Hassan Khalid Tariq Bilal Mustafa George Con Nick Sam Frank Joe Jimmy Danny Eddie Tom Chris Mick Steve Andy
Rob Phil Nathan Jarrad Ashley Darcy Benny
"""

#: Male names of men born after about 1980.
MALE_YOUNG: Final[str] = """
Joshua Jack Lachlan Liam Ethan Noah Oliver William Thomas James Lucas Mason Cooper Riley Jayden Jake Jacob Dylan
Tyler Blake Bailey Connor Brodie Callum Harrison Hayden Jordan Kyle Kai Levi Logan Max Mitchell Nathaniel Oscar
Patrick Reece Rhys Samuel Sebastian Toby Tristan Zac Zachary Aiden Alex Angus Archie Beau Billy Charlie Darcy
Declan Ewan Finn Flynn Harley Hudson Isaac Jesse Jett Joel Jonah Josh Kieran Leo Lincoln Luca Matt Owen Ryan Seth
Spencer Tom Xavier Zane Caleb Hamish Jaxon Ashton Corey Bryce Cody Dominic Elijah Gabriel Harvey Jasper Jude Kane
Lewis Malachi Nate Rory Ruben Theo Wyatt Austin Brayden Aarav Arjun Rohan Aryan Yusuf Ibrahim Kevin Andy Jimmy
Tommy Danny Eric Daniel Matthew Benjamin Nicholas Alexander Christopher Michael David Luke Nathan Adam Sam Ben Tim
Jarrah Koby Marley Tahj Orlando Ari Hunter Kobe Lukas Nicolas Travis Mackenzie Fraser Jai Jye Kade Kody Ky Taj
Zayd Hamza Omar Mohammad Ahmed Hussein Minh Khoa Duy Bao Huy Quan Jun Hao Yi Kai Wei Rahul Karan Nikhil Harpreet
Gurpreet Manpreet Jaspreet Sandeep Arman Dev Ishaan Vihaan
"""

#: Female names given in every generation.
FEMALE_CLASSIC: Final[str] = """
Elizabeth Mary Anne Ann Jane Sarah Catherine Katherine Helen Louise Rachel Emma Victoria Alice Kate Rose Claire
Jennifer Julia Anna Laura Caroline Lucy Charlotte Sophie Hannah Eleanor Frances Joanne Jacqueline Natalie Rebecca
Christine Kathleen Theresa Diana Amanda Penelope Georgina Harriet Isabel Josephine Margaret Susan Patricia Ruth
Grace Jessica Amy Kathryn Anna-Maria Maria Sophia Clare Julie Lisa Joan Judith Barbara Linda Cheryl Megan Fiona
Naomi Miriam Esther Leah Rosemary Veronica Bernadette Monica Cecilia Teresa Angela Gabrielle Juliet Isobel Emily
Madeleine Stephanie Samantha Alexandra Lauren Jade Tessa Bridget Molly Annie Ellen Nina Eva Erin Zoe Ivy Ruby
Audrey Olivia Amelia Fatima Aisha Mariam Jasmine Lily Chloe Holly Phoebe Harriet Imogen Eliza Evelyn Matilda
Mary-Anne Jo-Anne Lee-Anne Anne-Marie Rose-Marie Sarah-Jane Mary-Jane Kerry-Anne Leigh-Anne Mary-Ellen
"""

#: Female names of women born before about 1955.
FEMALE_OLD: Final[str] = """
Margaret Dorothy Joan Shirley Patricia Beryl Betty Jean June Joyce Marjorie Doris Gwen Gwendolyn Edna Elsie Irene
Ivy Mavis Muriel Nancy Norma Olive Pearl Phyllis Thelma Valerie Vera Violet Winifred Audrey Barbara Beverley Carmel
Colleen Daphne Elaine Enid Eileen Esme Ethel Evelyn Faye Gladys Glenys Gloria Hazel Heather Helen Hilda Isabel
Jessie Jillian Joy Judith Judy Lorraine Lois Marion Maureen Maxine Mildred Myrtle Noela Noreen Pamela Rita Robyn
Rosalie Rosemary Ruth Sheila Sylvia Yvonne Wendy Beatrice Bessie Cecily Constance Dulcie Florence Gertrude
Lillian Mabel Marie Mary Nellie Peggy Rosa Stella Una Veronica Elizabeth Kathleen Annette Lynette Janice Jennifer
Gail Carol Carole Dianne Diane Christine Susan Elaine Lesley Bronwyn Coral Merle Nola Rhonda Jan Dawn Eunice Freda
Ida Lena Madge Maisie Vida Wilma Agnes Maria Giuseppina Carmela Concetta Rosaria Anna Antonietta Francesca Angela
Giovanna Vasiliki Eleni Georgia Panagiota Despina Konstantina Sofia Ingrid Helga Greta Wilhelmina Johanna Halina
Zofia Danuta Vesna Mirjana Grazia Pasqualina Assunta Filomena Anastasia Irini Hedwig Liesel Dot Betty-Lou
"""

#: Female names of women born between about 1955 and 1980.
FEMALE_MID: Final[str] = """
Karen Michelle Lisa Kylie Tracey Tracy Kim Leanne Julie Sharon Donna Debra Deborah Susan Jennifer Catherine
Kathryn Nicole Melissa Rebecca Sarah Belinda Natalie Amanda Jodie Joanne Kerry Kelly Linda Lynette Narelle Rhonda
Sandra Sonia Tanya Vanessa Wendy Alison Andrea Angela Anne Annette Bronwyn Caroline Cheryl Christine Dianne Fiona
Gail Janet Janine Jacqueline Jane Jenny Julia Kathleen Katrina Kerrie Leigh Louise Lynda Megan Melinda Melanie
Monique Natasha Paula Rachel Renee Samantha Simone Suzanne Tania Teresa Therese Vicki Yvette Anita Danielle Jodi
Justine Kristy Leah Lee Maree Miriam Naomi Petra Roslyn Shelley Tina Toni Trudy Rachael Kellie Kristen Kirsten
Larissa Lynne Mandy Marianne Mellissa Nadine Nerida Raelene Rowena Sally Sonya Sue Tamara Tamsin Vicky Jo Deb Jackie
Lan Linh Huong Hoa Mai Thu Thao Ngoc Hanh Phuong Mei Ling Xin Yan Hui Jing Priya Anjali Sunita Pooja Neha Kavita
Deepa Lakshmi Fatima Zainab Mariam Layla Rania Nadia Samira Leila Joanna Kathy Cathy Debbie Trish Liz Sue-Ellen
Toni-Maree Donna-Maree
"""

#: Female names of women born after about 1980.
FEMALE_YOUNG: Final[str] = """
Jessica Emily Chloe Olivia Emma Sophie Hannah Grace Ella Isabella Mia Charlotte Ruby Georgia Amelia Lily Zoe
Madison Ava Brooke Caitlin Courtney Ashleigh Bianca Jade Kayla Tayla Shannon Stephanie Tegan Bethany Amy Lauren
Laura Sarah Rebecca Alexandra Alyssa Abbey Abigail Brianna Bridget Casey Chelsea Ellie Erin Eliza Eva Gemma Holly
Imogen Indiana Isla Jasmine Jemma Kate Katie Kiara Lara Lucy Maddison Madeleine Maya Molly Paige Phoebe Rose Sienna
Scarlett Sophia Summer Tahlia Tiarne Teagan Willow Zara Harper Evie Matilda Isabelle Annabelle Poppy Savannah
Aaliyah Amira Anika Aisha Ananya Vivian Tiffany Cindy Jenny Amber Danielle Hayley Jordan Kelsey Megan Nicole
Rachel Samantha Stacey Alicia Alana Alexis Angelina Bella Caitlyn Cassandra Claudia Elise Ebony Emilia Freya
Gabriella Hailey Jaime Jacinta Keeley Kirra Lana Leila Mikayla Monique Nikita Renee Sasha Skye Taylah Tara
Zoe-Lee Linh Thao My Vy Anh Trang Jasleen Simran Harleen Navneet Mehak Yasmin Maryam Noor Huda Yuki Hana Ji-woo
Sakura Ming Xinyi Jiayi
"""

#: Families of names a person is called or recorded by interchangeably (first = the usual formal form).
NICKNAMES: Final[str] = """
Robert Bob Rob Robbie Bobby Bert
William Bill Will Billy Willie Liam Wil
Elizabeth Liz Beth Betty Lizzie Eliza Libby Bess Elisabeth Lisa
Katherine Kate Kath Kathy Katie Kat Catherine Kathryn Cathy Kathleen Kitty
James Jim Jimmy Jamie Jas
Margaret Peggy Maggie Meg Marg Margie Greta Madge Margo Maisie
John Jack Johnny Jon Jock
Richard Rick Dick Rich Richie Ricky
Edward Ed Eddie Ted Ned Teddy
Charles Charlie Chuck Chas Chaz
Thomas Tom Tommy Thom
Michael Mike Mick Mickey Mikey Micky
Christopher Chris Kit Topher
Anthony Tony Ant Antony
Joseph Joe Joey Jos
Daniel Dan Danny
David Dave Davey Davy
Matthew Matt Matty Mathew
Andrew Andy Drew
Benjamin Ben Benny Benji
Nicholas Nick Nicky Nic Nicolas Nikolas
Alexander Alex Sandy Alec Xander Alexandre
Samuel Sam Sammy
Jonathan Jon Jonny Jonathon
Timothy Tim Timmy
Stephen Steve Stevie Steven
Gregory Greg
Geoffrey Geoff Jeff Jeffrey Jeffery
Peter Pete
Patrick Pat Paddy
Francis Frank Fran Frankie
Frederick Fred Freddie Freddy
Henry Harry Hank Hal
Lawrence Larry Laurie Laurence
Leonard Len Lenny Leo
Raymond Ray
Ronald Ron Ronnie
Donald Don Donnie
Kenneth Ken Kenny
Gerald Gerry Jerry
Douglas Doug Dougie
Philip Phil Phillip Pip
Terence Terry Terrence
Vincent Vince Vinnie
Zachary Zach Zac Zack
Nathaniel Nathan Nate Nat
Joshua Josh
Jacob Jake
Reginald Reg Reggie
Leslie Les Lesley
Albert Al Bert Bertie
Alfred Alf Alfie Fred
Walter Wal Walt Wally
Mervyn Merv
Cornelius Con Neil
Konstantinos Con Kostas Dean Costa
Giuseppe Joe Joseph Pino Peppe
Dimitrios Jim Jimmy Dimitri Mitch
Ioannis John Yianni Jack
Georgios George Yiorgos
Salvatore Sam Sal Salvo
Jennifer Jen Jenny Jenni Jennie
Rebecca Becky Bec Becca Rebekah
Deborah Deb Debbie Debra Debby
Susan Sue Suzy Susie Suzanne Susanne
Patricia Pat Patty Trish Tricia Trisha
Barbara Barb Babs
Dorothy Dot Dottie Dolly Dorothea
Christine Chris Chrissy Tina Christina Kristine
Victoria Vicky Vicki Tori Vic
Jessica Jess Jessie Jessy
Samantha Sam Sammy Sammi
Alexandra Alex Alexa Sandra Lexie Alexandria
Abigail Abby Abbie Gail
Jacqueline Jackie Jacqui Jacquie
Kimberley Kim Kimberly
Pamela Pam Pammy
Judith Judy Jude Judi
Theresa Terri Tess Tessa Teresa Therese Terry
Josephine Jo Josie Jose
Joanne Jo Joanna Joanna Jo-Anne
Frances Fran Frankie Francie
Nicole Nicky Nikki Nic Nicola
Stephanie Steph Stephie
Melissa Mel Missy Lissa
Melanie Mel Mellie
Natalie Nat Nattie Nathalie
Penelope Penny Pen
Rosemary Rose Rosie Romy
Anne Ann Annie Anna Hannah Anita
Mary Molly Polly Mae Maria Marie Mamie
Sarah Sally Sara Sadie
Helen Nell Ellen Helena Nellie Lena
Eleanor Ellie Nora Elle Elinor Leonora
Caroline Carol Carrie Carolyn Caro Carole
Cynthia Cindy Cyn
Lucinda Lucy Cindy
Gabrielle Gabby Gabi Gabriella
Isabella Bella Izzy Isabel Isobel Isabelle
Olivia Liv Livvy Livia
Madeleine Maddie Madeline Madelyn Maddy
Charlotte Charlie Lottie Lotte
Amanda Mandy Manda
Virginia Ginny Ginger
Beatrice Bea Trixie
Harriet Hattie Hatty
Louise Lou Lulu Louisa
Valerie Val
Veronica Ronnie Roni Vera
Gwendolyn Gwen Wendy
Evelyn Evie Eve Eveline
Danielle Dani Dannie
Michelle Shell Shelley Michele
Angela Angie Ange
Cassandra Cass Cassie
Antonia Toni Tonia
Jillian Jill Gillian Jilly
Kerry Kerri Keri Kerrie
Lee Leigh Lea
Rachel Rachael Rae
Jane Jayne Janey Jean
Sean Shaun Shawn
Brian Bryan Brien
Neil Neal Niall
Allan Alan Allen Al
Catriona Cat Trina Katrina
Giovanna Gina Joanna Vanna
Concetta Connie Tina
Wilhelmina Mina Billie Willa
"""

# --------------------------------------------------------------------------------------------------------
# Addresses (Australian)
# --------------------------------------------------------------------------------------------------------

#: State abbreviation, full name, share of the population, postcode ranges (inclusive) its suburbs draw from.
STATES: Final[tuple[tuple[str, str, float, tuple[tuple[int, int], ...]], ...]] = (
    ("NSW", "New South Wales", 0.315, ((2000, 2599), (2619, 2899), (2921, 2999))),
    ("VIC", "Victoria", 0.260, ((3000, 3999),)),
    ("QLD", "Queensland", 0.205, ((4000, 4999),)),
    ("WA", "Western Australia", 0.107, ((6000, 6797),)),
    ("SA", "South Australia", 0.070, ((5000, 5799),)),
    ("TAS", "Tasmania", 0.021, ((7000, 7799),)),
    ("ACT", "Australian Capital Territory", 0.017, ((2600, 2618), (2900, 2920))),
    ("NT", "Northern Territory", 0.010, ((800, 899),)),
)

#: Real suburb and town names per state (postcodes are assigned by the generator, within the state's range).
SUBURBS: Final[dict[str, str]] = {
    "NSW": """
Ashfield Burwood Croydon Epping Kingsford Maroubra Randwick Kogarah Hurstville Bankstown Lidcombe Auburn Granville
Merrylands Guildford Fairfield Cabramatta Liverpool Campbelltown Camden Penrith Richmond Windsor Hornsby Gordon
Pymble Turramurra Wahroonga Ryde Eastwood Carlingford Baulkham_Hills Castle_Hill Kellyville Rouse_Hill Mosman
Cremorne Neutral_Bay Kirribilli Balmain Leichhardt Glebe Newtown Petersham Stanmore Marrickville Dulwich_Hill Tempe
Mascot Botany Coogee Bondi Bronte Clovelly Paddington Woollahra Double_Bay Rose_Bay Vaucluse Manly Dee_Why Collaroy
Narrabeen Mona_Vale Avalon Palm_Beach Brookvale Frenchs_Forest Chatswood Artarmon Lane_Cove Hunters_Hill Drummoyne
Five_Dock Concord Strathfield Homebush Parramatta Westmead Wentworthville Blacktown Seven_Hills Mount_Druitt
St_Marys Emu_Plains Katoomba Leura Blackheath Lithgow Bathurst Orange Dubbo Tamworth Armidale Lismore Ballina
Byron_Bay Coffs_Harbour Port_Macquarie Taree Maitland Cessnock Newcastle Charlestown Wollongong Dapto Kiama Nowra
Goulburn Wagga_Wagga Albury Griffith Woolloomooloo Gosford Wyong Tuggerah Erina Terrigal Kurri_Kurri Singleton
Muswellbrook Mudgee Cowra Young Queanbeyan Jindabyne Cooma Bega Moruya Batemans_Bay Ulladulla Kempsey Grafton
Yamba Casino Inverell Moree Narrabri Gunnedah Parkes Forbes Broken_Hill Deniliquin Leeton Tumut Gundagai Yass
Engadine Sutherland Cronulla Miranda Caringbah Menai Revesby Padstow Panania Punchbowl Lakemba Belmore Campsie
Earlwood Bexley Rockdale Arncliffe Sans_Souci Peakhurst Mortdale Oatley Riverwood Kingsgrove Mount_Pritchard
Bonnyrigg Wetherill_Park Smithfield Prairiewood Edensor_Park Green_Valley Hoxton_Park Casula Moorebank Ingleburn
Minto Leumeah Narellan Oran_Park Picton Glenmore_Park Kingswood Cranebrook Werrington Quakers_Hill Riverstone
Schofields Glenwood Stanhope_Gardens Doonside Rooty_Hill Plumpton Hebersham Toongabbie Winston_Hills Northmead
Dundas Ermington Rydalmere Gladesville Putney Meadowbank West_Ryde Denistone Marsfield Macquarie_Park North_Ryde
Killara Lindfield Roseville St_Ives Killarney_Heights Forestville Belrose Terrey_Hills Cherrybrook West_Pennant_Hills
Beecroft Thornleigh Normanhurst Asquith Berowra Mount_Colah Wyoming Woy_Woy Umina_Beach The_Entrance Toukley
""",
    "VIC": """
Richmond Fitzroy Collingwood Carlton Brunswick Coburg Preston Reservoir Northcote Thornbury Kew Hawthorn Camberwell
Box_Hill Doncaster Ringwood Croydon Frankston Dandenong Springvale Clayton Oakleigh Caulfield St_Kilda Elwood
Brighton Sandringham Cheltenham Mentone Mordialloc Footscray Sunshine Williamstown Altona Werribee Essendon
Moonee_Ponds Pascoe_Vale Glenroy Broadmeadows Bundoora Greensborough Eltham Ballarat Bendigo Geelong Shepparton
Mildura Warrnambool Traralgon Sale Moe Morwell Bairnsdale Wodonga Wangaratta Benalla Echuca Swan_Hill Horsham
Hamilton Portland Colac Torquay Ocean_Grove Lara Melton Sunbury Craigieburn Epping Mill_Park South_Morang Doreen
Mernda Lalor Thomastown Heidelberg Ivanhoe Balwyn Surrey_Hills Mont_Albert Blackburn Nunawading Mitcham Vermont
Wantirna Boronia Bayswater Ferntree_Gully Rowville Knoxfield Scoresby Glen_Waverley Mount_Waverley Ashburton
Malvern Armadale Prahran South_Yarra Toorak Windsor Elsternwick Bentleigh Moorabbin Highett Carnegie Murrumbeena
Hughesdale Chadstone Mulgrave Wheelers_Hill Noble_Park Keysborough Narre_Warren Berwick Cranbourne Pakenham
Officer Hampton_Park Lynbrook Carrum_Downs Seaford Mornington Mount_Eliza Rosebud Hastings Sorrento Point_Cook
Hoppers_Crossing Tarneit Truganina Deer_Park St_Albans Keilor Taylors_Lakes Sydenham Hillside Caroline_Springs
Yarraville Seddon Kensington Flemington Ascot_Vale Maribyrnong Avondale_Heights Niddrie Strathmore Tullamarine
Gladstone_Park Westmeadows Roxburgh_Park Mooroolbark Lilydale Kilsyth Montrose Belgrave Healesville Warragul
Drouin Leongatha Wonthaggi Inverloch Kyneton Castlemaine Daylesford Ararat Stawell Maryborough Kerang
""",
    "QLD": """
Toowong Indooroopilly Kenmore Chermside Aspley Nundah Wynnum Manly Cleveland Capalaba Logan_Central Beenleigh
Ipswich Springfield Redcliffe Caboolture Southport Surfers_Paradise Burleigh_Heads Robina Nerang Maroochydore
Caloundra Noosa_Heads Toowoomba Rockhampton Mackay Townsville Cairns Bundaberg Gladstone Hervey_Bay Maryborough
Gympie Nambour Buderim Mooloolaba Coolangatta Tweed_Heads Coomera Helensvale Runaway_Bay Labrador Ashmore Mudgeeraba
Carrara Varsity_Lakes Mermaid_Beach Palm_Beach Currumbin Tugun Kirra Bilinga Paddington Red_Hill Ashgrove
The_Gap Bardon Auchenflower Milton Rosalie New_Farm Teneriffe Fortitude_Valley Spring_Hill Kangaroo_Point
Woolloongabba Annerley Moorooka Yeronga Sherwood Corinda Oxley Inala Forest_Lake Richlands Sunnybank Runcorn
Eight_Mile_Plains Underwood Springwood Shailer_Park Browns_Plains Marsden Kingston Slacks_Creek Waterford Jimboomba
Carindale Camp_Hill Coorparoo Holland_Park Mount_Gravatt Mansfield Wishart Carina Cannon_Hill Morningside Bulimba
Hawthorne Balmoral Hamilton Ascot Clayfield Wooloowin Kedron Stafford Everton_Park Mitchelton Keperra Ferny_Grove
Arana_Hills Albany_Creek Strathpine Petrie Kallangur Narangba Burpengary Morayfield Bribie_Island Deception_Bay
Emerald Mount_Isa Dalby Warwick Stanthorpe Kingaroy Bowen Ayr Ingham Innisfail Atherton Mareeba Port_Douglas
""",
    "WA": """
Fremantle Subiaco Cottesloe Scarborough Joondalup Midland Armadale Rockingham Mandurah Bunbury Geraldton Kalgoorlie
Albany Morley Mirrabooka Cannington Victoria_Park Como South_Perth Applecross Melville Bicton Palmyra East_Fremantle
Claremont Nedlands Dalkeith Mosman_Park Leederville Mount_Lawley Inglewood Bayswater Bassendean Maylands Belmont
Rivervale Kewdale Welshpool Bentley Thornlie Gosnells Kelmscott Byford Beckenham Willetton Riverton Rossmoyne Bull_Creek
Murdoch Kardinya Bateman Leeming Canning_Vale Harrisdale Piara_Waters Baldivis Warnbro Safety_Bay Kwinana Spearwood
Coogee Success Cockburn_Central Atwell Jandakot Wanneroo Clarkson Butler Ellenbrook Kingsley Greenwood Duncraig
Hillarys Sorrento Carine Karrinyup Doubleview Innaloo Wembley Floreat City_Beach Balga Girrawheen Koondoola
Hamersley Balcatta Stirling Osborne_Park Tuart_Hill Nollamara Dianella Noranda Beechboro Lockridge Kiara
Busselton Margaret_River Dunsborough Collie Esperance Broome Karratha Port_Hedland Carnarvon Northam York
""",
    "SA": """
Glenelg Norwood Unley Prospect Salisbury Elizabeth Modbury Tea_Tree_Gully Marion Morphett_Vale Mount_Gambier
Whyalla Port_Augusta Murray_Bridge Port_Lincoln Port_Pirie Victor_Harbor Gawler Mount_Barker Hahndorf Stirling
Aldgate Burnside Magill Campbelltown Paradise Newton Athelstone Payneham Felixstow Klemzig Enfield Kilburn
Woodville Findon Seaton Grange Henley_Beach West_Lakes Semaphore Port_Adelaide Largs_Bay Brighton Somerton_Park
Hove Seacliff Marino Hallett_Cove Sheidow_Park Reynella Christies_Beach Noarlunga Aldinga Seaford Happy_Valley
Aberfoyle_Park Flagstaff_Hill Blackwood Belair Mitcham Kingswood Goodwood Wayville Parkside Fullarton Glen_Osmond
Walkerville Gilberton Medindie Nailsworth Blair_Athol Kensington_Gardens Golden_Grove Greenwith Mawson_Lakes
Parafield_Gardens Paralowie Munno_Para Smithfield Davoren_Park Andrews_Farm Renmark Berri Loxton Naracoorte
Millicent Kadina Wallaroo Moonta Clare Nuriootpa Tanunda Angaston
""",
    "TAS": """
Hobart Sandy_Bay Glenorchy Kingston Launceston Devonport Burnie Ulverstone Battery_Point North_Hobart West_Hobart
Lenah_Valley Moonah New_Town Claremont Bridgewater Brighton Sorell Howrah Bellerive Lindisfarne Rokeby Lauderdale
Taroona Blackmans_Bay Huonville Cygnet Newnham Mowbray Invermay Kings_Meadows Prospect Riverside Legana Trevallan
Perth Longford Deloraine Latrobe Penguin Wynyard Smithton Queenstown St_Helens Scottsdale George_Town New_Norfolk
""",
    "ACT": """
Belconnen Bruce Kambah Tuggeranong Gungahlin Woden Weston Braddon Turner Dickson Ainslie Reid Campbell Griffith
Kingston Barton Deakin Yarralumla Red_Hill Narrabundah Hughes Curtin Garran Lyons Chifley Phillip Mawson Farrer
Torrens Pearce Kaleen Giralang Evatt Florey Macgregor Holt Higgins Page Scullin Charnwood Dunlop Fraser Ngunnawal
Nicholls Amaroo Harrison Franklin Forde Bonner Casey Wanniassa Greenway Calwell Conder Banks Gordon Isabella_Plains
""",
    "NT": """
Darwin Palmerston Casuarina Alice_Springs Katherine Nightcliff Stuart_Park Parap Fannie_Bay Rapid_Creek Millner
Coconut_Grove Ludmilla Jingili Nakara Wanguri Leanyer Malak Karama Anula Wulagi Tiwi Humpty_Doo Howard_Springs
Tennant_Creek Nhulunbuy Jabiru Larrakeyah The_Gardens Woolner Winnellie Berrimah Durack Gray Driver Moulden
Rosebery Bakewell Gunn Zuccoli Johnston Bellamack
""",
}

#: Parts composing further suburb names (each state gets its own draw of them).
SUBURB_FIRST: Final[str] = (
    "Ash Bel Berk Black Blue Bright Brook Burn Cam Car Cedar Clare Clay Clover Coal Cool Crow Dal Dun Elm Fair Fern "
    "Glen Gold Green Hazel High Holly Iron Kings Lake Lang Lind Long Maple Marl Meadow Mill Moss New Oak Pine Red "
    "Rich River Rock Rose Sand Silver Spring Stan Stone Sun Thorn Wattle White Wil Win Wood"
)
SUBURB_SECOND: Final[str] = (
    "bank bourne brook bury by dale dene field ford gate glen grove hall ham haven hurst lands lea leigh ley mead "
    "mere mont more park ridge side stead stone ton vale view ville wood worth"
)
#: Syllables of Aboriginal-language place names (Wollongong, Mooloolaba), for a share of composed suburbs.
SUBURB_SYLLABLES: Final[tuple[str, str, str]] = (
    "Wa Ya Coo Moo Ka Bo Gun Nar Bin Mul Woo Tar Wal Kur Jin Bur Mir Wan Yar Nam Tin Gil Bal Dar Toon Kal Ben",
    "ra ga rin ba da nga loo bee jee dil gon oon am ar on in ool al an el ab ook",
    "bah dah ga ra ong inda ool alla anna ella abri ooka amba illy una erup up",
)
#: Decorations real suburb names take (``North Ringwood``, ``Ringwood North``, ``Mount X``, ``X Heights``).
SUBURB_PREFIXES: Final[tuple[str, ...]] = ("North", "South", "East", "West", "Mount", "Port", "Upper", "Lower")
SUBURB_SUFFIXES: Final[tuple[str, ...]] = (
    "North", "South", "East", "West", "Park", "Heights", "Hills", "Beach", "Creek", "Valley", "Downs", "Point",
    "Vale", "Gardens", "Plains", "Lakes",
)

#: Street names, most common first.
STREET_NAMES: Final[str] = """
High Church Park Station Main Railway Victoria King George Queen William Elizabeth Albert Bridge Hill Mill School
Market Water Beach Ocean River Lake Forest Wattle Acacia Banksia Waratah Grevillea Boronia Jacaranda Myrtle Cedar
Pine Oak Elm Ash Maple Rose Violet Orchid Camellia Hakea Kurrajong Bottlebrush Smith Jones Wilson Macquarie Bourke
Phillip Hunter Darling Sturt Mitchell Flinders Cook Banks Hume Oxley Light Stirling Lonsdale Collins Swanston
Bathurst Goulburn Murray Forbes Kent York Lancaster Clarence Regent Ann Charlotte Adelaide Edward Mary Alice
Margaret Grey Stanley Gordon Lord Nelson Wellington Marlborough Wentworth Windsor Hampden Addison Anzac Federation
Coronation Jubilee Centenary Commercial Canterbury Oxford Cambridge Dover Essex Surrey Sussex Devon Cornwall
Kensington Chelsea Bayview Seaview Hillcrest Ridge Valley Highfield Greenhill Fairview Sunnyside Glenview Riverview
Mountain_View Pacific Princes Great_Western Old_Northern Pittwater Burwood Ryde Epping Carlingford Marsden Lawson
Blaxland Parkes Barton Deakin Reid Fisher Hughes Bruce Scullin Lyons Curtin Chifley Menzies Holt Gorton Whitlam
Frazer Hawke Keating Howard Dalley Spence Lennox Denison Hindmarsh Gawler Torrens Onkaparinga Tamar Derwent Yarra
Moreton Brisbane Logan Albany Swan Canning Melville Kimberley Gibson Morgan Brown Taylor White Martin Anderson
Thompson Walker Harris Roberts Green Hall Wood Jackson Clarke Lewis James Turner Scott Young Moore Campbell Murphy
Edwards Allen Stewart Baker Cooper Morris Bell Kelly Ward Marshall Graham Carter Mason Hunt Russell Bennett Wallace
Dixon Mills Knight Chapman Henderson Matthews Foster Ferguson Nelson Armstrong Morrison Lane Doyle Quinn Grant Hart
Harvey Hudson Lawrence Maxwell Pearson Powell Riley Spencer Stone Wade Wells West Acton Baxter Bayswater Belmore
Beresford Birch Boundary Bowden Brighton Bunya Cabbage_Tree Camden Carrington Casuarina Central Clyde Coral Creek
Cross Crown Cypress Dalton Derby Dudley Eucalyptus Evans Ferry Fig_Tree Flora Gardenia Gladstone Glebe Grange Gum
Harbour Heath Hibiscus Holly Illawarra Ironbark Ivy Jasmine Kent Lachlan Laurel Lilac Lilly_Pilly Lime Links
Lovett Magnolia Manning Melaleuca Mimosa Norfolk North South East West Paperbark Peel Penny Poplar Quarry
Redgum Rosella Royal Russell Sandy Sassafras Shore Spring Spruce Stringybark Sunset Tea_Tree Telopea Union Wallaby
Waratah Warrigal Willow Woodland Yarra Yellowbox
"""

#: Street types: full form, usual abbreviations (first = the Australia Post one), relative frequency.
STREET_TYPES: Final[tuple[tuple[str, tuple[str, ...], float], ...]] = (
    ("Street", ("St",), 0.40),
    ("Road", ("Rd",), 0.17),
    ("Avenue", ("Ave", "Av"), 0.11),
    ("Drive", ("Dr", "Drv"), 0.08),
    ("Court", ("Ct", "Crt"), 0.05),
    ("Place", ("Pl",), 0.04),
    ("Crescent", ("Cres", "Cr"), 0.04),
    ("Close", ("Cl",), 0.02),
    ("Lane", ("La", "Ln"), 0.02),
    ("Parade", ("Pde",), 0.015),
    ("Terrace", ("Tce", "Terr"), 0.015),
    ("Way", ("Wy",), 0.01),
    ("Circuit", ("Cct", "Cir"), 0.01),
    ("Grove", ("Gr", "Gve"), 0.01),
    ("Boulevard", ("Bvd", "Blvd"), 0.005),
    ("Highway", ("Hwy",), 0.005),
    ("Esplanade", ("Esp",), 0.003),
    ("Square", ("Sq",), 0.002),
)

#: Adjacent keys on a QWERTY keyboard (for keyboard-neighbour typos).
KEYBOARD_ROWS: Final[tuple[str, ...]] = ("1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm")

#: OCR and handwriting confusions (either direction).
OCR_CONFUSIONS: Final[tuple[tuple[str, str], ...]] = (
    ("rn", "m"), ("cl", "d"), ("li", "h"), ("vv", "w"), ("l", "1"), ("I", "l"), ("O", "0"), ("e", "c"),
    ("n", "h"), ("u", "v"), ("a", "o"), ("i", "l"), ("B", "8"), ("S", "5"), ("G", "6"), ("ri", "n"),
)

#: Spelling-by-ear substitutions (either direction).
PHONETIC_SWAPS: Final[tuple[tuple[str, str], ...]] = (
    ("ph", "f"), ("ie", "y"), ("ey", "y"), ("ck", "k"), ("ou", "ow"), ("ai", "ay"), ("ee", "ea"), ("th", "t"),
    ("c", "k"), ("s", "z"), ("ll", "l"), ("tt", "t"), ("nn", "n"), ("ss", "s"), ("son", "sen"), ("er", "a"),
)
